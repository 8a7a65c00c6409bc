"""The suite's spares are copies of one migrated schema (tests/spares.py): a copy must be
the same schema as a migration makes, catalogue by catalogue, or every test that signs a
workspace up from the pool would run on something production never has."""

import pytest
from django.db import connection

from tenants import schemas
from tests.spares import CLONER

CATALOGUE = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, is_identity,
               -- the order of the columns (a migration's dropped column leaves a gap)
               row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
               replace(coalesce(column_default, ''), %(schema)s, 'S')
        FROM information_schema.columns WHERE table_schema = %(schema)s""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, %(schema)s, 'S')
        FROM pg_indexes WHERE schemaname = %(schema)s""",
    "constraints": """
        SELECT (SELECT relname FROM pg_class WHERE oid = c.conrelid), c.conname,
               replace(pg_get_constraintdef(c.oid), %(schema)s, 'S')
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = %(schema)s""",
    "triggers": """
        SELECT c.relname, t.tgname, replace(pg_get_triggerdef(t.oid), %(schema)s, 'S')
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND NOT t.tgisinternal""",
    "relations": """
        SELECT c.relname, c.relkind, c.relacl::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s""",
    "functions": """
        SELECT p.proname, replace(pg_get_functiondef(p.oid), %(schema)s, 'S')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s""",
}


def catalogue(schema: str) -> dict[str, list]:
    found = {}
    with connection.cursor() as cursor:
        for name, sql in CATALOGUE.items():
            cursor.execute(sql, {"schema": schema})
            found[name] = sorted(cursor.fetchall())
        cursor.execute(f"SELECT app, name FROM {schemas.quote(schema)}.django_migrations")
        found["migrations"] = sorted(cursor.fetchall())
    return found


@pytest.mark.slow
def test_a_copied_spare_is_the_schema_a_migration_makes(db):
    if not CLONER.sql:  # known once the session's database is set up
        pytest.skip("spares are migrated in this run (ATRIUM_TEST_MIGRATED_SPARES, Citus)")
    # The reference: migrated for real by migrate_schema when the session's database
    # was built, and no spare, so no test has claimed or changed it since.
    CLONER.copy_into("spare_check_copied")
    migrated, copied = catalogue(CLONER.template), catalogue("spare_check_copied")
    assert migrated["columns"]  # a real, migrated schema, with every migration the code has
    assert set(schemas.expected_migrations()) <= set(migrated["migrations"])
    differ = [part for part in migrated if copied[part] != migrated[part]]
    assert not differ, {part: (copied[part], migrated[part]) for part in differ}
