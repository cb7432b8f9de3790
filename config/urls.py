from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from annotation.views import pages
from config.metrics import metrics_view

urlpatterns = [
    path("", pages.home, name="home"),
    path("healthz", pages.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("annotation.urls")),
    path("api/", include("annotation.urls_slides")),
    path("api/", include("annotation.urls_review")),
    path("api/", include("annotation.urls_exchange")),
    path("api/ml/", include("mlbackend.urls")),
    path("app/<str:page>/", pages.app_page, name="app"),
    path("app/<str:page>/<int:project>/", pages.app_page, name="app-project"),
    path("app/<str:page>/<int:project>/<int:task>/", pages.app_page, name="app-task"),
]
