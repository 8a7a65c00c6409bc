"""Production role separation for the audit tables (see the README, "Roles").

The append-only triggers only bind roles that do not own the tables: an owner
can ``ALTER TABLE ... DISABLE TRIGGER``. ``role_separation_sql`` returns the
statements that give the audit tables and their trigger functions to an owner
role (the one that runs migrations) and leave the application role only what
it needs: SELECT and INSERT on events, links and checkpoints. An optional
retention role also gets DELETE on events and links, which the trigger still
refuses outside ``audit_retention``'s signed-checkpoint transaction.
"""

from django.db import connection

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditchainlink", "audit_auditcheckpoint")
SETTINGS_TABLE = "audit_auditretention"  # per-chain retention overrides: plain rows
TRIGGER_FUNCTIONS = ("audit_append_only()", "audit_event_digest()")


def _sequences(tables) -> list[str]:
    """The id sequences of ``tables`` (the chain-link table has none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pg_get_serial_sequence(c.table_name, 'id')
            FROM information_schema.columns c
            WHERE c.table_schema = 'public' AND c.column_name = 'id'
              AND c.table_name = ANY(%s)
            ORDER BY c.table_name
            """,
            [list(tables)],
        )
        return [row[0] for row in cursor.fetchall() if row[0]]


def role_separation_sql(*, owner: str, app: str, retention: str | None = None) -> list[str]:
    """The SQL that makes ``owner`` own the audit tables and limits ``app`` (and
    ``retention``) to the rights above. Run it as a superuser or as the current
    owner (a member of ``owner``), after migrating, and again after any later
    migration of the audit app that creates a table."""
    owner_q, app_q = connection.ops.quote_name(owner), connection.ops.quote_name(app)
    tables = [*APPEND_ONLY_TABLES, SETTINGS_TABLE]
    all_tables = ", ".join(tables)
    append_only = ", ".join(APPEND_ONLY_TABLES)
    sequences = ", ".join(_sequences(tables))
    functions = ", ".join(TRIGGER_FUNCTIONS)
    # The owner migrates: it creates in the schema (ALTER ... OWNER requires it too).
    sql = [f"GRANT USAGE, CREATE ON SCHEMA public TO {owner_q}"]
    sql += [f"ALTER TABLE {table} OWNER TO {owner_q}" for table in tables]
    sql += [f"ALTER FUNCTION {function} OWNER TO {owner_q}" for function in TRIGGER_FUNCTIONS]
    sql += [
        f"REVOKE ALL ON {all_tables} FROM PUBLIC, {app_q}",
        f"REVOKE ALL ON FUNCTION {functions} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {app_q}",
        f"GRANT SELECT, INSERT ON {append_only} TO {app_q}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SETTINGS_TABLE} TO {app_q}",
        f"GRANT USAGE, SELECT ON SEQUENCE {sequences} TO {app_q}",
    ]
    if retention:
        retention_q = connection.ops.quote_name(retention)
        sql += [
            f"REVOKE ALL ON {all_tables} FROM {retention_q}",
            f"GRANT USAGE ON SCHEMA public TO {retention_q}",
            f"GRANT SELECT, INSERT ON {append_only} TO {retention_q}",
            f"GRANT SELECT ON {SETTINGS_TABLE} TO {retention_q}",
            f"GRANT DELETE ON audit_auditevent, audit_auditchainlink TO {retention_q}",
            f"GRANT USAGE, SELECT ON SEQUENCE {sequences} TO {retention_q}",
        ]
    return sql
