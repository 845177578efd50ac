"""Issue 11: evidence snapshots in step records (record version 2) and the transparency log.

- ``Step.record_version`` (existing rows: 1, the rule they were hashed under) and
  ``Step.evidence`` (existing rows: empty). Adding a column with a constant default is an
  ``ALTER TABLE`` on PostgreSQL, not an ``UPDATE``: the append-only trigger of 0002 does not
  fire and no stored record changes.
- ``AuditRun.record_hash`` (existing runs: empty; they predate the log).
- The log: ``LogLeaf`` and ``LogNode`` (append-only, with the trigger of 0002 on PostgreSQL;
  the steps already in the archive are appended in id order),
  ``LogHead`` (its one row, updated by every append), ``Checkpoint`` (append-only).
"""

import importlib

from django.db import migrations, models

append_only = importlib.import_module("restoration.migrations.0002_append_only")

TABLES = ("restoration_logleaf", "restoration_lognode", "restoration_checkpoint")
TRIGGERS = [
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION restoration_refuse_change();"
    for table in TABLES
]
DROP_TRIGGERS = [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in TABLES]


def make_head(apps, schema_editor):
    """The log's head, with every step already in the archive appended in id order (their
    version 1 record hashes), so that existing lineage is covered by the first checkpoint."""
    import datetime as dt

    from restoration import merkle

    LogHead = apps.get_model("restoration", "LogHead")
    LogLeaf = apps.get_model("restoration", "LogLeaf")
    LogNode = apps.get_model("restoration", "LogNode")
    Step = apps.get_model("restoration", "Step")
    if LogHead.objects.filter(pk=1).exists():
        return
    now = dt.datetime.now(dt.UTC)
    frontier, leaves, nodes, size = [], [], [], 0
    for pk, record_hash in Step.objects.order_by("id").values_list("id", "record_hash").iterator():
        leaf = merkle.leaf_hash(merkle.leaf_data("step", pk, record_hash))
        frontier, done = merkle.frontier_append(frontier, size, leaf)
        leaves.append(
            LogLeaf(index=size, kind="step", record_id=pk, record_hash=record_hash,
                    leaf_hash=leaf.hex(), appended_at=now)
        )
        nodes += [LogNode(level=lv, index=ix, hash=h.hex()) for lv, ix, h in done]
        size += 1
        if len(leaves) >= 2000:
            LogLeaf.objects.bulk_create(leaves)
            LogNode.objects.bulk_create(nodes)
            leaves, nodes = [], []
    LogLeaf.objects.bulk_create(leaves)
    LogNode.objects.bulk_create(nodes)
    LogHead.objects.create(pk=1, size=size, frontier=[[lv, h.hex()] for lv, h in frontier])


def log_old_audit_runs(apps, schema_editor):
    """Audit runs recorded before the log (``record_hash`` empty) are appended after the steps,
    in id order, each under the hash of the run as stored (``restoration.ledger.audit_run_hash``:
    every field it hashes was already stored, so the hash is the one the run would have had).
    What the leaf proves from then on is that the run has not changed since the log began (its
    ``appended_at``), not since it ran: nothing earlier was signed. Reusable on a database that
    already has a log: only runs without a hash and without a leaf are appended."""
    import datetime as dt

    from restoration import merkle
    from restoration.ledger import audit_run_hash

    LogHead = apps.get_model("restoration", "LogHead")
    LogLeaf = apps.get_model("restoration", "LogLeaf")
    LogNode = apps.get_model("restoration", "LogNode")
    AuditRun = apps.get_model("restoration", "AuditRun")
    logged = LogLeaf.objects.filter(kind="audit").values("record_id")
    runs = list(AuditRun.objects.filter(record_hash="").exclude(pk__in=logged).order_by("id"))
    if not runs:
        return
    head = LogHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head = LogHead.objects.create(pk=1, size=0, frontier=[])
    frontier = [(lv, bytes.fromhex(h)) for lv, h in head.frontier]
    size = head.size
    now = dt.datetime.now(dt.UTC)
    for run in runs:
        record_hash = audit_run_hash(run)
        AuditRun.objects.filter(pk=run.pk).update(record_hash=record_hash)
        leaf = merkle.leaf_hash(merkle.leaf_data("audit", run.pk, record_hash))
        frontier, done = merkle.frontier_append(frontier, size, leaf)
        LogLeaf.objects.create(
            index=size, kind="audit", record_id=run.pk, record_hash=record_hash,
            leaf_hash=leaf.hex(), appended_at=now,
        )
        LogNode.objects.bulk_create([LogNode(level=lv, index=ix, hash=h.hex()) for lv, ix, h in done])
        size += 1
    LogHead.objects.filter(pk=1).update(size=size, frontier=[[lv, h.hex()] for lv, h in frontier])


class Migration(migrations.Migration):
    dependencies = [("restoration", "0005_media")]

    operations = [
        migrations.AddField(
            model_name="step",
            name="record_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="step",
            name="evidence",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="auditrun",
            name="record_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.CreateModel(
            name="LogLeaf",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("index", models.BigIntegerField(unique=True)),
                ("kind", models.CharField(help_text="step, revision or audit", max_length=20)),
                ("record_id", models.BigIntegerField()),
                ("record_hash", models.CharField(max_length=64)),
                ("leaf_hash", models.CharField(help_text="SHA-256(0x00 || leaf data), hex", max_length=64)),
                ("appended_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["index"],
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "record_id"), name="log_leaf_one_per_record")
                ],
            },
        ),
        migrations.CreateModel(
            name="LogNode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("level", "index"), name="log_node_unique")],
            },
        ),
        migrations.CreateModel(
            name="LogHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("size", models.BigIntegerField(default=0)),
                ("frontier", models.JSONField(blank=True, default=list)),
            ],
        ),
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tree_size", models.BigIntegerField()),
                ("root", models.CharField(max_length=64)),
                ("signed_at", models.DateTimeField()),
                ("origin", models.CharField(max_length=200)),
                ("key_id", models.CharField(help_text="sha256 of the raw public key, hex", max_length=64)),
                ("public_key", models.CharField(help_text="raw Ed25519 public key, base64", max_length=100)),
                ("signature", models.CharField(help_text="Ed25519 signature, base64", max_length=200)),
                ("reason", models.CharField(blank=True, max_length=100)),
            ],
            options={"ordering": ["-tree_size", "-id"]},
        ),
        migrations.RunPython(make_head, migrations.RunPython.noop),
        migrations.RunPython(log_old_audit_runs, migrations.RunPython.noop),
        append_only.PostgresOnlyRunSQL(sql=TRIGGERS, reverse_sql=DROP_TRIGGERS),
    ]
