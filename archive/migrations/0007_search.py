"""Issue 16 (search and speed): folded search keys, indexes for the lists' sort orders and
``created_at``, partial indexes on the restricted flags (the seeds of visibility filters), and
on PostgreSQL trigram GIN indexes on the search keys (``pg_trgm``, created here)."""

from django.db import migrations, models

# The catalogue tables whose ``search_key`` gets a trigram index on PostgreSQL.
SEARCH_TABLES = [
    "archive_figure",
    "archive_photo",
    "archive_source",
    "archive_citation",
    "archive_note",
    "archive_referenceimage",
]


def _trigram_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: the same folded columns, searched without a trigram index
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table in SEARCH_TABLES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_search_trgm ON {table} "
            "USING gin (search_key gin_trgm_ops)"
        )


def _drop_trigram_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in SEARCH_TABLES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_search_trgm")


def _fill_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Existing records get their keys (the rule lives in archive.search)."""
    from archive.search import key_of

    for name in ("Figure", "Photo", "Source", "Citation", "Note", "ReferenceImage"):
        model = apps.get_model("archive", name)
        for record in model.objects.all().iterator():
            key = key_of(name, record, apps=apps)
            if key != record.search_key:
                model.objects.filter(pk=record.pk).update(search_key=key)


def _key_field() -> models.TextField:
    return models.TextField(blank=True, default="", editable=False)


class Migration(migrations.Migration):
    dependencies = [("archive", "0006_revisions")]

    operations = [
        *[
            migrations.AddField(model_name=model, name="search_key", field=_key_field())
            for model in ("citation", "figure", "note", "photo", "referenceimage", "source")
        ],
        migrations.AddIndex(
            model_name="citation",
            index=models.Index(fields=["created_at"], name="citation_created"),
        ),
        migrations.AddIndex(
            model_name="citation",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["id"], name="citation_hidden"
            ),
        ),
        migrations.AddIndex(
            model_name="figure",
            index=models.Index(fields=["sort_name", "name", "id"], name="figure_sort"),
        ),
        migrations.AddIndex(
            model_name="figure",
            index=models.Index(fields=["created_at"], name="figure_created"),
        ),
        migrations.AddIndex(
            model_name="figure",
            index=models.Index(fields=["birth_earliest"], name="figure_birth"),
        ),
        migrations.AddIndex(
            model_name="figure",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["id"], name="figure_hidden"
            ),
        ),
        migrations.AddIndex(
            model_name="figure",
            index=models.Index(
                condition=models.Q(("restricted", False)), fields=["id"], name="figure_public"
            ),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(
                condition=models.Q(("restricted", False)), fields=["id"], name="photo_public"
            ),
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["-created_at", "id"], name="note_sort"),
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["id"], name="note_hidden"
            ),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(fields=["title", "id"], name="photo_sort"),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(fields=["created_at"], name="photo_created"),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(fields=["date_earliest"], name="photo_date"),
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["master"], name="photo_hidden"
            ),
        ),
        migrations.AddIndex(
            model_name="referenceimage",
            index=models.Index(fields=["created_at"], name="reference_created"),
        ),
        migrations.AddIndex(
            model_name="referenceimage",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["id"], name="reference_hidden"
            ),
        ),
        migrations.AddIndex(
            model_name="source",
            index=models.Index(fields=["title", "id"], name="source_sort"),
        ),
        migrations.AddIndex(
            model_name="source",
            index=models.Index(fields=["created_at"], name="source_created"),
        ),
        migrations.AddIndex(
            model_name="source",
            index=models.Index(fields=["date_earliest"], name="source_date"),
        ),
        migrations.AddIndex(
            model_name="source",
            index=models.Index(
                condition=models.Q(("restricted", True)), fields=["id"], name="source_hidden"
            ),
        ),
        migrations.RunPython(_trigram_indexes, _drop_trigram_indexes, elidable=True),
        migrations.RunPython(_fill_keys, migrations.RunPython.noop, elidable=True),
    ]
