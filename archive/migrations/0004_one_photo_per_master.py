"""One Photo per master artifact (issue 10: racing uploads of one scan made several photos).

A database that already holds such duplicates cannot take the constraint; the check below
names them so an archivist can merge the records (keep one photo per master, move figures,
citations and notes onto it, delete the others) before migrating again."""

from django.db import migrations, models
from django.db.models import Count


def refuse_duplicates(apps, schema_editor):
    Photo = apps.get_model("archive", "Photo")
    doubled = (
        Photo.objects.values("master_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("master_id", flat=True)
    )
    clashes = {
        master: sorted(Photo.objects.filter(master_id=master).values_list("id", flat=True))
        for master in doubled[:50]
    }
    if clashes:
        listing = "; ".join(f"artifact {m}: photos {ids}" for m, ids in clashes.items())
        raise RuntimeError(
            "several photos catalogue the same master scan; merge them, then migrate again: "
            + listing
        )


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0003_roles"),
        ("restoration", "0002_append_only"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="photo",
            constraint=models.UniqueConstraint(fields=["master"], name="one_photo_per_master"),
        ),
    ]
