"""Migrations run while the site serves: a migration waiting for a lock gives up after
MIGRATION_LOCK_TIMEOUT instead of queueing every query behind itself, and tries the
schema again; migrate_schemas runs under these timeouts."""

import secrets
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, connections
from django.db.models.signals import pre_migrate

from tenants.fleet_migrations import FleetMigrator, migration_timeouts


def dsn() -> str:
    s = connection.settings_dict
    return f"host={s['HOST']} port={s['PORT']} user={s['USER']} dbname={s['NAME']}"


@pytest.fixture
def probe_schema(db):
    """A committed throw-away schema with a table and a django_migrations of its own."""
    name = f"lockprobe_{secrets.token_hex(4)}"
    with psycopg.connect(dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        admin.execute(f"CREATE TABLE {name}.items (id int)")
        admin.execute(
            f"CREATE TABLE {name}.django_migrations "
            "(id serial, app varchar(255), name varchar(255), applied timestamptz)"
        )
    yield name
    with psycopg.connect(dsn(), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


def migrate_in_thread(schema: str, statements: list[str], outcome: dict) -> threading.Thread:
    """Replay ``statements`` on ``schema`` as the fleet does, on a connection of its own."""

    def run() -> None:
        started = time.monotonic()
        try:
            migrator = FleetMigrator("default")
            with migration_timeouts(migrator.connection):
                migrator.replay_retrying(schema, statements, [("probe", "0001_probe")])
            outcome["result"] = "migrated"
        except OperationalError as exc:
            outcome["result"] = exc
        finally:
            outcome["seconds"] = time.monotonic() - started
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def timed_read(schema: str, outcome: dict) -> threading.Thread:
    def run() -> None:
        started = time.monotonic()
        with psycopg.connect(dsn()) as reader:
            reader.execute(f"SELECT count(*) FROM {schema}.items").fetchone()
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_blocked_migration_gives_up_and_readers_wait_no_longer_than_its_timeout(
    probe_schema, settings
):
    settings.MIGRATION_LOCK_TIMEOUT = "300ms"
    settings.MIGRATION_LOCK_RETRIES = 0
    migration, read = {}, {}
    with psycopg.connect(dsn()) as holder:
        # A long report holds ACCESS SHARE on the table; ADD COLUMN needs ACCESS EXCLUSIVE.
        holder.execute(f"SELECT * FROM {probe_schema}.items").fetchall()
        migrating = migrate_in_thread(
            probe_schema, [f"ALTER TABLE {probe_schema}.items ADD COLUMN note text"], migration
        )
        time.sleep(0.1)  # the ALTER is queued now; a new reader queues behind it
        reading = timed_read(probe_schema, read)
        migrating.join(10)
        reading.join(10)
        assert not holder.closed  # the report is still running all along
    assert isinstance(migration["result"], OperationalError)
    assert "lock timeout" in str(migration["result"])
    assert migration["seconds"] < 2
    # Without a lock timeout the reader would wait for the report (here: the whole test).
    assert read["seconds"] < 1.5
    with psycopg.connect(dsn()) as check:
        columns = check.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'items'",
            [probe_schema],
        ).fetchall()
        recorded = check.execute(f"SELECT count(*) FROM {probe_schema}.django_migrations")
        assert columns == [("id",)]  # the schema's transaction was rolled back whole
        assert recorded.fetchone() == (0,)


def test_a_schema_whose_lock_wait_timed_out_is_tried_again(probe_schema, settings):
    settings.MIGRATION_LOCK_TIMEOUT = "200ms"
    settings.MIGRATION_LOCK_RETRIES = 3
    migration = {}
    holder = psycopg.connect(dsn())
    holder.execute(f"SELECT * FROM {probe_schema}.items").fetchall()
    release = threading.Timer(1.2, holder.close)  # the report ends after 1.2 s
    release.start()
    migrate_in_thread(
        probe_schema, [f"ALTER TABLE {probe_schema}.items ADD COLUMN note text"], migration
    ).join(20)
    release.join()
    assert migration["result"] == "migrated"
    assert 1.0 < migration["seconds"] < 8  # waited out the report with pauses of 1 s, 2 s
    with psycopg.connect(dsn()) as check:
        row = check.execute(f"SELECT app, name FROM {probe_schema}.django_migrations").fetchone()
        assert row == ("probe", "0001_probe")


def test_migrate_schemas_runs_under_the_timeouts(db, settings):
    settings.MIGRATION_LOCK_TIMEOUT = "4s"
    settings.MIGRATION_STATEMENT_TIMEOUT = "7min"
    seen = []

    def record(**kwargs) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            lock = cursor.fetchone()[0]
            cursor.execute("SHOW statement_timeout")
            seen.append((lock, cursor.fetchone()[0]))

    pre_migrate.connect(record, dispatch_uid="test-migration-timeouts")
    try:
        call_command("migrate_schemas", "--noinput", verbosity=0)
    finally:
        pre_migrate.disconnect(dispatch_uid="test-migration-timeouts")
    assert seen and set(seen) == {("4s", "7min")}
    with connection.cursor() as cursor:  # and reset afterwards
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"
