"""Drop the single-column indexes on annotation.project/pair/task: composite indexes already lead with these
columns, and every index costs each bulk insert (12 -> 9 indexes on the largest table); likewise the event's
annotation index, which (annotation, at) covers."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_densitycell")]

    operations = [
        migrations.AlterField(
            model_name="annotationevent",
            name="annotation",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="events",
                                    to="annotation.annotation"),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="pair",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="annotations",
                                    to="annotation.slidepair"),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="project",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="annotations",
                                    to="annotation.project"),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="task",
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="annotations", to="annotation.task"),
        ),
    ]
