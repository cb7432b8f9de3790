"""GiST index on the annotation bounding box (PostgreSQL only): a viewport is one indexed `&&` query."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS ann_bbox_gist ON annotation_annotation "
    "USING gist (box(point(min_x, min_y), point(max_x, max_y))) WHERE NOT is_deleted"
)
DROP = "DROP INDEX IF EXISTS ann_bbox_gist"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
