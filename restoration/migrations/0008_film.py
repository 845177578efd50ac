# Issue 13 (films): chunk bookkeeping of chunked film steps (restoration.film_jobs), written
# from `makemigrations restoration --dry-run -v 3`, this operation only.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("restoration", "0007_search")]

    operations = [
        migrations.CreateModel(
            name="FilmChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("job_index", models.PositiveSmallIntegerField()),
                ("number", models.PositiveIntegerField()),
                ("read_start", models.PositiveIntegerField()),
                ("read_stop", models.PositiveIntegerField()),
                ("emit_start", models.PositiveIntegerField()),
                ("emit_stop", models.PositiveIntegerField()),
                ("status", models.CharField(choices=[("pending", "pending"), ("running", "running"), ("done", "done")], default="pending", max_length=10)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("claimed_by", models.CharField(blank=True, max_length=200)),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                ("frames_done", models.PositiveIntegerField(default=0)),
                ("output_key", models.CharField(blank=True, max_length=300)),
                ("frames_out", models.PositiveIntegerField(default=0)),
                ("result", models.JSONField(blank=True, default=dict, help_text="analysis, record, hashes")),
                ("done_at", models.DateTimeField(blank=True, null=True)),
                ("job", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="film_chunks", to="restoration.job")),
            ],
            options={
                "ordering": ["job_id", "job_index", "number"],
                "constraints": [models.UniqueConstraint(fields=("job", "job_index", "number"), name="one_film_chunk_per_position")],
            },
        ),
    ]
