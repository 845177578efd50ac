"""PostgreSQL triggers that refuse UPDATE and DELETE on the lineage tables.

The ORM already refuses both (``AppendOnlyModel``); the triggers stop raw SQL, other clients
and future code paths too. SQLite gets no trigger: it is the single-user embedded mode, and the
ORM guard plus ``python manage.py verify`` (which detects any change) cover it.

TRUNCATE is deliberately not refused: Django's test runner and ``flush`` empty tables with it,
and only a table owner can run it. An auditor who needs a change anyway (e.g. a tamper test)
must ``ALTER TABLE ... DISABLE TRIGGER`` as the owner, which is itself a visible, logged act.
"""

from django.db import migrations

TABLES = (
    "restoration_artifact",
    "restoration_step",
    "restoration_stepinput",
    "restoration_stepoutput",
    "restoration_stepcitation",
    "restoration_stepreference",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION restoration_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'lineage records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""

FORWARD = [FUNCTION] + [
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION restoration_refuse_change();"
    for table in TABLES
]
BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in TABLES] + [
    "DROP FUNCTION IF EXISTS restoration_refuse_change();"
]


class PostgresOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (the SQL is PL/pgSQL)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("restoration", "0001_initial")]
    operations = [PostgresOnlyRunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
