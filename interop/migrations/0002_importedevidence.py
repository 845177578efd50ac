import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("interop", "0001_initial"),
        ("restoration", "0006_evidence"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportedEvidence",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("source", "Source"),
                            ("citation", "Citation"),
                            ("reference", "Reference"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "origin_id",
                    models.BigIntegerField(help_text="the record's id in the exporting archive"),
                ),
                ("origin_revision", models.PositiveIntegerField(default=0)),
                ("local_id", models.BigIntegerField(help_text="the record recreated here")),
                (
                    "bag_import",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="evidence",
                        to="interop.bagimport",
                    ),
                ),
                (
                    "step",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="imported_evidence",
                        to="restoration.step",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [models.Index(fields=["step", "kind"], name="imported_evidence_step")],
            },
        ),
    ]
