# Reserved for issue 11 (evidence, revisions): fill in this migration's operations (written by hand, or copied from
# `makemigrations archive --dry-run -v 3`, taking only this changes). Placeholders keep
# one linear chain while several changes are built at once.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("archive", "0005_approved_restoration")]

    operations: list = []
