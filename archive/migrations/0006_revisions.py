"""Issue 11: a revision of every catalogue write (who, when, before, after), append-only (a
PostgreSQL trigger refuses UPDATE and DELETE, as on the lineage tables), and the files whose
restricted record was deleted (kept hidden)."""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

append_only = importlib.import_module("restoration.migrations.0002_append_only")

TRIGGER = (
    "CREATE TRIGGER archive_revision_append_only BEFORE UPDATE OR DELETE ON archive_revision "
    "FOR EACH ROW EXECUTE FUNCTION restoration_refuse_change();"
)
DROP_TRIGGER = "DROP TRIGGER IF EXISTS archive_revision_append_only ON archive_revision;"


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0005_approved_restoration"),
        ("restoration", "0006_evidence"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WithheldFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.CharField(blank=True, max_length=300)),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("artifact", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="restoration.artifact")),
            ],
        ),
        migrations.CreateModel(
            name="Revision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("record_type", models.CharField(help_text="figure, photo, source, ...", max_length=30)),
                ("record_id", models.BigIntegerField()),
                ("number", models.PositiveIntegerField()),
                ("action", models.CharField(choices=[("create", "created"), ("update", "changed"), ("delete", "deleted")], max_length=10)),
                ("at", models.DateTimeField()),
                ("actor", models.CharField(blank=True, help_text="username at the time", max_length=150)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("record_hash", models.CharField(max_length=64, unique=True)),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["record_type", "record_id", "number"],
                "indexes": [models.Index(fields=["record_type", "record_id", "-number"], name="archive_rev_record__2e056d_idx")],
                "constraints": [models.UniqueConstraint(fields=("record_type", "record_id", "number"), name="revision_number_unique")],
            },
        ),
        append_only.PostgresOnlyRunSQL(sql=[TRIGGER], reverse_sql=[DROP_TRIGGER]),
    ]
