# Placeholder so that later migrations have a fixed parent; the lineage work fills it in with
# the PostgreSQL triggers that refuse UPDATE/DELETE on lineage tables.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restoration", "0001_initial")]
    operations: list = []
