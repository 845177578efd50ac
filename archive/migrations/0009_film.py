# Issue 13 (films): the Film catalogue record (written by hand from
# `makemigrations archive --dry-run -v 3`, this operation only).
import django.db.models.deletion
from django.db import migrations, models

import archive.dates


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0008_workbench"),
        ("restoration", "0005_media"),
    ]

    operations = [
        migrations.CreateModel(
            name="Film",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "restricted",
                    models.BooleanField(
                        default=False,
                        help_text="Only users with the 'view restricted records' permission can see it.",
                        verbose_name="restricted",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("title", models.CharField(max_length=500, verbose_name="title")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                (
                    "date",
                    models.CharField(
                        blank=True,
                        help_text="EDTF: 1927-04-28, 1927-04, 1925~ (about), 1898? (uncertain), 192X, 1920/1930",
                        max_length=100,
                        validators=[archive.dates.validate_edtf],
                        verbose_name="date",
                    ),
                ),
                ("date_earliest", models.DateField(blank=True, editable=False, null=True)),
                ("date_latest", models.DateField(blank=True, editable=False, null=True)),
                ("place", models.CharField(blank=True, max_length=300, verbose_name="place")),
                (
                    "maker",
                    models.CharField(blank=True, max_length=300, verbose_name="maker / studio"),
                ),
                (
                    "repository",
                    models.CharField(blank=True, max_length=300, verbose_name="holding repository"),
                ),
                (
                    "accession_number",
                    models.CharField(
                        blank=True, db_index=True, max_length=100, verbose_name="accession number"
                    ),
                ),
                (
                    "carrier",
                    models.CharField(
                        choices=[
                            ("35mm_nitrate", "35 mm nitrate"),
                            ("35mm_safety", "35 mm safety (acetate, polyester)"),
                            ("28mm", "28 mm"),
                            ("17.5mm", "17.5 mm"),
                            ("16mm", "16 mm"),
                            ("9.5mm", "9.5 mm"),
                            ("8mm", "8 mm"),
                            ("super8", "Super 8"),
                            ("tape", "video tape"),
                            ("digital", "born digital"),
                            ("unknown", "unknown"),
                        ],
                        default="unknown",
                        max_length=20,
                        verbose_name="physical carrier",
                    ),
                ),
                (
                    "original_fps",
                    models.CharField(
                        blank=True,
                        help_text='as shot, "num/den" (e.g. 16/1, 18/1, 24000/1001); empty if unknown',
                        max_length=32,
                        verbose_name="original frame rate",
                    ),
                ),
                (
                    "physical_description",
                    models.TextField(
                        blank=True,
                        help_text="length, gauge, condition, titles",
                        verbose_name="physical description",
                    ),
                ),
                (
                    "rights_statement",
                    models.CharField(blank=True, max_length=300, verbose_name="rights statement"),
                ),
                (
                    "figures",
                    models.ManyToManyField(
                        blank=True,
                        related_name="films",
                        to="archive.figure",
                        verbose_name="figures shown",
                    ),
                ),
                (
                    "master",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="films",
                        to="restoration.artifact",
                        verbose_name="master video",
                    ),
                ),
            ],
            options={
                "ordering": ["title", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("master",), name="one_film_per_master")
                ],
            },
        ),
    ]
