"""What a backup records beside the dump, read in the dump's own snapshot.

``Snapshot`` opens a REPEATABLE READ transaction on a connection of its own and
exports its snapshot; pg_dump runs with ``--snapshot``, and the row counts,
checksums, migrations, document objects and the audit export are read in the
same transaction, so the manifest describes exactly the dumped data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
from psycopg import sql

from .pgtools import Database

# An order-independent checksum of a table's rows: the sum of the first 64 bits of
# each row's md5 (of its text form, which does not name the schema). Streams: no sort.
_TABLE_STATS = (
    "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint"
    "::numeric), 0)::text FROM {table} AS t"
)


def table_stats(cursor, schema: str) -> dict[str, dict]:
    """``{table: {"rows": n, "checksum": text}}`` for every table of ``schema``."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        [schema],
    )
    stats = {}
    for (table,) in cursor.fetchall():
        cursor.execute(sql.SQL(_TABLE_STATS).format(table=sql.Identifier(schema, table)))
        rows, checksum = cursor.fetchone()
        stats[table] = {"rows": rows, "checksum": checksum}
    return stats


def applied_migrations(cursor, schema: str) -> set[tuple[str, str]]:
    cursor.execute(sql.SQL("SELECT app, name FROM {}").format(
        sql.Identifier(schema, "django_migrations")))  # fmt: skip
    return {(app, name) for app, name in cursor.fetchall()}


def document_rows(cursor, schema: str) -> list[tuple]:
    """``(id, storage_key, quarantine_key, size, sha256, state)`` of every document."""
    cursor.execute(
        sql.SQL(
            "SELECT id::text, storage_key, quarantine_key, size, sha256, state FROM {} ORDER BY id"
        ).format(sql.Identifier(schema, "uploads_document"))
    )
    return cursor.fetchall()


class Snapshot:
    """A read-only REPEATABLE READ transaction whose snapshot pg_dump can share."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.conn: psycopg.Connection | None = None
        self.id = ""

    def __enter__(self) -> Snapshot:
        self.conn = psycopg.connect(**self.database.connect_kwargs())
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.id = self.conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        return self

    def cursor(self):
        return self.conn.cursor()

    def audit_lines(self, chain: str) -> Iterator[bytes]:
        """The chain's events, links and checkpoints as JSON Lines, streamed."""
        for kind, table, order in (
            ("event", "audit_auditevent", "id"),
            ("link", "audit_auditchainlink", "seq"),
            ("checkpoint", "audit_auditcheckpoint", "seq, id"),
        ):
            query = sql.SQL(
                "SELECT row_to_json(r)::text FROM {} r WHERE chain = %s ORDER BY " + order  # noqa: S608 - constant
            ).format(sql.Identifier("public", table))
            with self.conn.cursor(name=f"audit_{kind}") as cursor:
                cursor.itersize = 2000
                cursor.execute(query, [chain])
                for (row,) in cursor:
                    yield json.dumps({"kind": kind, "row": json.loads(row)}).encode() + b"\n"

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
