from annotation.models.annotations import Annotation, AnnotationEvent, BulkRequest, DensityCell
from annotation.models.jobs import AuditEvent, Job, WorkerHeartbeat
from annotation.models.projects import LabelClass, Membership, Project, Role
from annotation.models.review import AgreementSnapshot, AnnotatorQuality, GoldResult, ReviewItem
from annotation.models.slides import Registration, Slide, SlidePair
from annotation.models.tasks import Assignment, Task

__all__ = [
    "AgreementSnapshot",
    "AnnotatorQuality",
    "GoldResult",
    "ReviewItem",
    "Annotation",
    "AnnotationEvent",
    "Assignment",
    "AuditEvent",
    "BulkRequest",
    "DensityCell",
    "Job",
    "LabelClass",
    "Membership",
    "Project",
    "Registration",
    "Role",
    "Slide",
    "SlidePair",
    "Task",
    "WorkerHeartbeat",
]
