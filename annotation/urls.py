from rest_framework.routers import DefaultRouter

from annotation.api.annotations import AnnotationViewSet
from annotation.api.projects import LabelClassViewSet, MembershipViewSet, ProjectViewSet
from annotation.api.tasks import AssignmentViewSet, TaskViewSet

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("classes", LabelClassViewSet, basename="labelclass")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("tasks", TaskViewSet, basename="task")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("annotations", AnnotationViewSet, basename="annotation")
extra: list = []
urlpatterns = router.urls + extra
