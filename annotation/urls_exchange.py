from django.urls import path

from annotation.api import exchange

urlpatterns = [
    path("pairs/<int:pair_id>/export/geojson/", exchange.PairGeoJSONExportView.as_view(), name="export-geojson"),
    path("pairs/<int:pair_id>/export/csv/", exchange.PairCsvExportView.as_view(), name="export-csv"),
    path("pairs/<int:pair_id>/import/geojson/", exchange.PairGeoJSONImportView.as_view(), name="import-geojson"),
    path("projects/<int:project_id>/export/geojson/", exchange.ProjectGeoJSONExportView.as_view(), name="export-project-geojson"),
    path("projects/<int:project_id>/export/csv/", exchange.ProjectCsvExportView.as_view(), name="export-project-csv"),
    path("projects/<int:project_id>/export/coco/", exchange.ProjectCocoExportView.as_view(), name="export-coco"),
    path("tasks/<int:task_id>/mask/", exchange.TaskMaskView.as_view(), name="task-mask"),
]
