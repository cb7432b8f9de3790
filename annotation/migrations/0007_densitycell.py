"""Per-pair density grid for the zoomed-out overview, kept by statement-level triggers (PostgreSQL only).

Every INSERT/UPDATE/DELETE on annotation_annotation (ORM, bulk_update, COPY, cascades) adds its net change per
(pair, 1024-px cell, class, source, author) to annotation_densitycell in one aggregated upsert, in key order
(so concurrent writers lock grid rows in the same order). Edits that keep a row in its cell change nothing.
"""

from django.db import migrations, models

KEY = "pair_id, gx, gy, class_key, source, author_key"
CELL = (
    "pair_id, floor(cx / 1024)::int AS gx, floor(cy / 1024)::int AS gy, coalesce(label_class_id, 0) AS class_key, "
    "source, coalesce(author_id, 0) AS author_key"
)
FUNCTION = f"""
CREATE OR REPLACE FUNCTION annotation_density_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO annotation_densitycell AS g ({KEY}, n)
    SELECT {KEY}, count(*) FROM (SELECT {CELL} FROM new_rows WHERE NOT is_deleted) r
    GROUP BY {KEY} ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET n = g.n + excluded.n;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO annotation_densitycell AS g ({KEY}, n)
    SELECT {KEY}, sum(d) FROM (
      SELECT {CELL}, -1 AS d FROM old_rows WHERE NOT is_deleted
      UNION ALL SELECT {CELL}, 1 AS d FROM new_rows WHERE NOT is_deleted
    ) r GROUP BY {KEY} HAVING sum(d) <> 0 ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET n = g.n + excluded.n;
  ELSE
    INSERT INTO annotation_densitycell AS g ({KEY}, n)
    SELECT {KEY}, -count(*) FROM (SELECT {CELL} FROM old_rows WHERE NOT is_deleted) r
    GROUP BY {KEY} ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET n = g.n + excluded.n;
  END IF;
  -- cells a statement emptied (only cells that lost rows can reach zero)
  DELETE FROM annotation_densitycell g USING (SELECT DISTINCT {CELL} FROM old_rows WHERE NOT is_deleted) d
  WHERE g.n <= 0 AND (g.pair_id, g.gx, g.gy, g.class_key, g.source, g.author_key)
    = (d.pair_id, d.gx, d.gy, d.class_key, d.source, d.author_key);
  RETURN NULL;
END $$;
"""
TRIGGERS = [
    "CREATE TRIGGER annotation_density_ins AFTER INSERT ON annotation_annotation "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_density_apply()",
    "CREATE TRIGGER annotation_density_upd AFTER UPDATE ON annotation_annotation "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_density_apply()",
    "CREATE TRIGGER annotation_density_del AFTER DELETE ON annotation_annotation "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION annotation_density_apply()",
]
BACKFILL = (
    f"INSERT INTO annotation_densitycell ({KEY}, n) SELECT {KEY}, count(*) FROM "
    f"(SELECT {CELL} FROM annotation_annotation WHERE NOT is_deleted) r GROUP BY {KEY}"
)
DROP = [
    "DROP TRIGGER IF EXISTS annotation_density_ins ON annotation_annotation",
    "DROP TRIGGER IF EXISTS annotation_density_upd ON annotation_annotation",
    "DROP TRIGGER IF EXISTS annotation_density_del ON annotation_annotation",
    "DROP FUNCTION IF EXISTS annotation_density_apply()",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE annotation_annotation IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(FUNCTION)
    for sql in TRIGGERS:
        schema_editor.execute(sql)
    schema_editor.execute(BACKFILL)
    schema_editor.execute("ANALYZE annotation_densitycell")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_ann_pair_centroid")]

    operations = [
        migrations.CreateModel(
            name="DensityCell",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pair_id", models.BigIntegerField()),
                ("gx", models.IntegerField()),
                ("gy", models.IntegerField()),
                ("class_key", models.BigIntegerField()),
                ("source", models.CharField(max_length=16)),
                ("author_key", models.BigIntegerField()),
                ("n", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("pair_id", "gx", "gy", "class_key", "source", "author_key"), name="densitycell_key"
                    )
                ]
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
