"""Issue 16 (search and speed): indexes for the lists' sort orders and ``created_at``."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("restoration", "0006_evidence")]

    operations = [
        migrations.AddIndex(
            model_name="artifact",
            index=models.Index(fields=["created_at"], name="artifact_created"),
        ),
        migrations.AddIndex(
            model_name="step",
            index=models.Index(fields=["created_at"], name="step_created"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["-created_at", "-id"], name="job_sort"),
        ),
    ]
