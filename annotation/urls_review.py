from django.urls import path

from annotation.api import review

urlpatterns = [
    path("review/", review.ReviewQueueView.as_view(), name="review-queue"),
    path("review/<int:item_id>/", review.ReviewItemView.as_view(), name="review-item"),
    path("review/<int:item_id>/resolve/", review.ReviewResolveView.as_view(), name="review-resolve"),
    path("projects/<int:project_id>/quality/", review.ProjectQualityView.as_view(), name="project-quality"),
    path("projects/<int:project_id>/gold/", review.GoldFeedbackView.as_view(), name="project-gold"),
]
