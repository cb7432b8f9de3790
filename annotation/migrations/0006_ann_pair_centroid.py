"""Covering index on (pair, centroid) for the zoomed-out overview (PostgreSQL only): counts per bin come from an
index-only scan instead of reading every row."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS ann_pair_centroid ON annotation_annotation (pair_id, cx, cy) "
    "INCLUDE (source, author_id, label_class_id, task_id) WHERE NOT is_deleted"
)
DROP = "DROP INDEX IF EXISTS ann_pair_centroid"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_review_quality_gold")]
    operations = [migrations.RunPython(forwards, backwards)]
