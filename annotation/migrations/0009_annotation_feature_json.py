"""The viewport's JSON text of each annotation, kept by PostgreSQL as a stored generated column (PostgreSQL only).

Printing jsonb (`geometry::text`) and formatting nine fields cost more than reading the rows; stored once per
write, a viewport becomes `string_agg(feature_json)` over a GiST bitmap scan. The column is not a model field:
Django never reads or writes it (inserts name their columns), `annotation.selectors.annotations` selects it.
Every piece is a uuid, a number, an enum string or jsonb text, so nothing needs escaping.
"""

from django.db import migrations


def _num(column: str) -> str:
    return f"coalesce({column}::text, 'null')"


FEATURE = (
    "'{\"id\":\"' || id::text || '\",\"version\":' || version::text || ',\"label_class\":' || "
    + _num("label_class_id")
    + " || ',\"source\":\"' || source::text || '\",\"status\":\"' || status::text || '\",\"task\":' || "
    + _num("task_id")
    + " || ',\"author\":' || "
    + _num("author_id")
    + " || ',\"confidence\":' || "
    + _num("confidence")
    + " || ',\"geometry\":' || geometry::text || '}'"
)
ADD = f"ALTER TABLE annotation_annotation ADD COLUMN IF NOT EXISTS feature_json text GENERATED ALWAYS AS ({FEATURE}) STORED"
DROP = "ALTER TABLE annotation_annotation DROP COLUMN IF EXISTS feature_json"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0008_annotation_fk_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
