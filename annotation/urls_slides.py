"""URL patterns of slides, uploads, imports, pairs, registration and jobs (included under api/)."""

from django.urls import path

from annotation.api import slides as v

urlpatterns = [
    path("projects/<int:project_id>/slides/", v.ProjectSlides.as_view(), name="project-slides"),
    path("projects/<int:project_id>/importable/", v.ProjectImportable.as_view(), name="project-importable"),
    path("projects/<int:project_id>/import/", v.ProjectImport.as_view(), name="project-import"),
    path("projects/<int:project_id>/pairs/", v.ProjectPairs.as_view(), name="project-pairs"),
    path("slides/<int:slide_id>/", v.SlideDetail.as_view(), name="slide-detail"),
    path("slides/<int:slide_id>/thumbnail/", v.SlideImage.as_view(), name="slide-thumbnail"),
    path("slides/<int:slide_id>/images/<str:name>/", v.SlideImage.as_view(), name="slide-image"),
    path("slides/<int:slide_id>/dzi/", v.SlideDzi.as_view(), name="slide-dzi"),
    path("uploads/", v.UploadList.as_view(), name="uploads"),
    path("uploads/<str:upload_id>/", v.UploadDetail.as_view(), name="upload-detail"),
    path("uploads/<str:upload_id>/complete/", v.UploadComplete.as_view(), name="upload-complete"),
    path("pairs/<int:pair_id>/", v.PairDetail.as_view(), name="pair-detail"),
    path("pairs/<int:pair_id>/viewer/", v.PairViewer.as_view(), name="pair-viewer"),
    path("pairs/<int:pair_id>/register/", v.PairRegister.as_view(), name="pair-register"),
    path("pairs/<int:pair_id>/registration/", v.PairRegistration.as_view(), name="pair-registration"),
    path("pairs/<int:pair_id>/registration/qa/", v.PairRegistrationQA.as_view(), name="pair-registration-qa"),
    path("pairs/<int:pair_id>/registration/checkerboard.png", v.PairCheckerboard.as_view(), name="pair-checkerboard"),
    path("pairs/<int:pair_id>/landmarks/", v.PairLandmarks.as_view(), name="pair-landmarks"),
    path("pairs/<int:pair_id>/registrations/", v.PairRegistrations.as_view(), name="pair-registrations"),
    path(
        "pairs/<int:pair_id>/registrations/<int:version>/activate/",
        v.PairRegistrationActivate.as_view(),
        name="pair-registration-activate",
    ),
    path("jobs/", v.JobList.as_view(), name="jobs"),
    path("jobs/<uuid:job_id>/", v.JobDetail.as_view(), name="job-detail"),
]
