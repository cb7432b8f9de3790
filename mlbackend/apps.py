from django.apps import AppConfig


class MlbackendConfig(AppConfig):
    name = "mlbackend"
    verbose_name = "ML backend"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # annotation never imports mlbackend: it is handed the engine's landmark refinement by name (lazy import)
        from annotation.services.registration import landmark_refiner_install

        landmark_refiner_install("mlbackend.pipelines.registration.refine_landmarks")
