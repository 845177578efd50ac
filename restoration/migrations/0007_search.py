# Reserved for issue 16 (search and speed): fill in this migration's operations (written by hand, or copied from
# `makemigrations restoration --dry-run -v 3`, taking only this changes). Placeholders keep
# one linear chain while several changes are built at once.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restoration", "0006_evidence")]

    operations: list = []
