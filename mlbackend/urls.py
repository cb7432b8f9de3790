from django.urls import path

from mlbackend import api

urlpatterns = [
    path("versions/", api.VersionListView.as_view(), name="ml-versions"),
    path("versions/<int:version_id>/", api.VersionDetailView.as_view(), name="ml-version"),
    path("versions/<int:version_id>/promote/", api.VersionPromoteView.as_view(), name="ml-version-promote"),
    path("projects/<int:project_id>/retrain/", api.ProjectRetrainView.as_view(), name="ml-retrain"),
    path("projects/<int:project_id>/rollback/", api.ProjectRollbackView.as_view(), name="ml-rollback"),
    path("projects/<int:project_id>/preannotate/", api.ProjectPreannotateView.as_view(), name="ml-preannotate"),
    path("projects/<int:project_id>/consensus/", api.ProjectConsensusView.as_view(), name="ml-consensus"),
    path("segment-click/", api.SegmentClickView.as_view(), name="ml-segment-click"),
]
