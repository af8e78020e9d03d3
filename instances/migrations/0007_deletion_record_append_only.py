"""On PostgreSQL, the database itself refuses UPDATE and DELETE on deletion records and their
resources: the evidence of a teardown is kept for good, whatever the application does."""

from django.db import migrations

TABLES = ("instances_deletionrecord", "instances_deletedresource")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION instances_deletion_record_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is kept for good: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

CREATE_TRIGGER = """
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION instances_deletion_record_append_only();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(CREATE_TRIGGER.format(table=table), params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};", params=None
        )
    schema_editor.execute(
        "DROP FUNCTION IF EXISTS instances_deletion_record_append_only();", params=None
    )


class Migration(migrations.Migration):
    dependencies = [("instances", "0006_deletion_record")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
