"""A migration executor for django-tenants that scales to thousands of schemas.

django-tenants' standard executor runs the whole ``migrate`` command per schema:
it rebuilds the migration state, issues ~90 statements and opens a new
connection for every schema, even when there is nothing to do. Here:

1. one query per batch of schemas reads what every schema has applied;
2. schemas already at the target are skipped;
3. the others are grouped by what they have applied; for each group the plan
   is worked out once on one schema, its SQL collected (as ``sqlmigrate``
   does), and replayed on each schema in its own transaction over one
   connection, recording the migrations as applied;
4. a plan that cannot be expressed as SQL (``RunPython``, non-atomic
   migrations, unapplying) falls back to the standard executor for that group.

Spare schemas of the pool are migrated with the tenants, so a signup never
gets an out-of-date schema.

While it runs, the site runs too (the release runs before the new code rolls
out): every statement waits at most ``MIGRATION_LOCK_TIMEOUT`` for a lock and
runs at most ``MIGRATION_STATEMENT_TIMEOUT``, so a migration queued behind a long
query never queues every request behind itself. A schema replayed here whose lock
wait timed out is tried again (``MIGRATION_LOCK_RETRIES``); then the command fails, having
committed the schemas before it, and running it again carries on.
"""

import contextlib
import logging
import sys
import time
from collections import defaultdict

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction
from django.db.migrations.executor import MigrationExecutor as DjangoMigrationExecutor
from django.db.migrations.operations import CreateModel, DeleteModel
from django.utils import timezone
from django_tenants.migration_executors import get_executor as stock_get_executor
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.utils import get_tenant_base_migrate_command_class

from . import schemas

logger = logging.getLogger(__name__)

BATCH = 200


def _only_comments(sql: str) -> bool:
    """``collect_sql`` interleaves ``-- operation`` comment lines; PostgreSQL rejects them alone."""
    return all(not line.strip() or line.lstrip().startswith("--") for line in sql.splitlines())


def get_executor(codename: str | None = None):
    """``GET_EXECUTOR_FUNCTION``: ours by default, the stock ones by name."""
    if codename in (None, FleetExecutor.codename):
        return FleetExecutor
    return stock_get_executor(codename)


@contextlib.contextmanager
def migration_timeouts(connection):
    """Session-wide lock and statement timeouts on ``connection`` for the block."""
    lock = str(getattr(settings, "MIGRATION_LOCK_TIMEOUT", "2s"))
    statement = str(getattr(settings, "MIGRATION_STATEMENT_TIMEOUT", "10min"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false), "
            "set_config('statement_timeout', %s, false)",
            [lock, statement],
        )
    try:
        yield
    finally:
        # Never hide the error that ended the block behind one from resetting.
        with contextlib.suppress(DatabaseError):
            if connection.connection is not None and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("RESET lock_timeout; RESET statement_timeout")


def _lock_wait_timed_out(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available


class FleetExecutor(MigrationExecutor):
    codename = "fleet"

    def run_migrations(self, tenants=None) -> None:
        with migration_timeouts(connections[self.TENANT_DB_ALIAS]):
            self._run_migrations(tenants)

    def _run_migrations(self, tenants=None) -> None:
        tenants = list(tenants or [])
        if self.PUBLIC_SCHEMA_NAME in tenants:
            run_migrations(self.args, self.options, self.codename, self.PUBLIC_SCHEMA_NAME)
            tenants.remove(self.PUBLIC_SCHEMA_NAME)
        if not tenants:
            return
        if (
            self.options.get("app_label")
            or self.options.get("fake")
            or self.options.get("fake_initial")
        ):
            # Targeted or faked runs keep the stock behaviour, one schema at a time.
            for schema_name in tenants:
                run_migrations(self.args, self.options, "standard", schema_name)
            return
        all_schemas = bool(len(tenants) > 1 or not self.options.get("schema_name"))
        if all_schemas:
            from .models import SpareSchema

            tenants += list(SpareSchema.objects.values_list("schema_name", flat=True))
        FleetMigrator(self.TENANT_DB_ALIAS, self.options).migrate(tenants)

    def run_multi_type_migrations(self, tenants) -> None:
        raise NotImplementedError("Atrium has a single tenant type.")


class FleetMigrator:
    def __init__(self, alias: str, options: dict | None = None) -> None:
        self.alias = alias
        self.options = options or {}
        self.connection = connections[alias]
        self.verbosity = int(self.options.get("verbosity", 1))

    def say(self, message: str) -> None:
        if self.verbosity >= 1:
            sys.stdout.write(message + "\n")

    def migrate(self, schema_names: list[str]) -> dict[str, int]:
        """Bring every schema in ``schema_names`` to the code's migrations."""
        target = schemas.expected_migrations()
        existing = self._existing(schema_names)
        applied = self._applied(existing)
        groups: dict[frozenset, list[str]] = defaultdict(list)
        for name in existing:
            done = frozenset(m for m in applied.get(name, ()) if m in target)
            if done != target:
                groups[done].append(name)
        migrated = 0
        for done, names in groups.items():
            migrated += self._migrate_group(names, fresh=not done)
        self._refresh_spare_fingerprints()
        skipped = len(existing) - migrated
        self.say(f"fleet: {migrated} schema(s) migrated, {skipped} already up to date")
        self.connection.set_schema_to_public()
        return {"migrated": migrated, "skipped": skipped}

    # -- reading the fleet's state ------------------------------------------------

    def _existing(self, names: list[str]) -> list[str]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(names)]
            )
            present = {row[0] for row in cursor.fetchall()}
        missing = [n for n in names if n not in present]
        if missing:
            logger.warning("fleet: %d schema(s) do not exist: %s", len(missing), missing[:5])
        return [n for n in names if n in present]

    def _applied(self, names: list[str]) -> dict[str, set[tuple[str, str]]]:
        self.connection.set_schema_to_public()
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema FROM information_schema.tables "
                "WHERE table_name = 'django_migrations' AND table_schema = ANY(%s)",
                [names],
            )
            with_table = sorted(row[0] for row in cursor.fetchall())
        applied: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for start in range(0, len(with_table), BATCH):
            part = with_table[start : start + BATCH]
            sql = " UNION ALL ".join(
                f"SELECT %s, app, name FROM {schemas.quote(n)}.django_migrations"  # noqa: S608
                for n in part
            )
            with self.connection.cursor() as cursor:
                cursor.execute(sql, part)
                for schema_name, app, name in cursor.fetchall():
                    applied[schema_name].add((app, name))
        return applied

    # -- applying -------------------------------------------------------------------

    def _plan_for(self, schema_name: str):
        self.connection.set_schema(schema_name)
        executor = DjangoMigrationExecutor(self.connection)
        targets = executor.loader.graph.leaf_nodes()
        return executor, executor.migration_plan(targets)

    def _stock_options(self) -> dict:
        """Options for the stock per-schema path: ``migrate``'s defaults, then ours."""
        parser = get_tenant_base_migrate_command_class()().create_parser("manage.py", "migrate")
        defaults = vars(parser.parse_args([]))
        # Checks already ran once for the whole command; not again for every schema.
        return {**defaults, **self.options, "interactive": False, "skip_checks": True,
                "verbosity": 0}  # fmt: skip

    @staticmethod
    def _replayable(plan) -> bool:
        return all(
            not backwards
            and migration.atomic
            and all(op.reduces_to_sql for op in migration.operations)
            for migration, backwards in plan
        )

    def _migrate_one_by_one(self, names: list[str]) -> int:
        self.say(f"fleet: plan for {len(names)} schema(s) needs Python; migrating one by one")
        options = self._stock_options()
        for name in names:
            run_migrations([], options, "fleet", name)
        return len(names)

    def _migrate_group(self, names: list[str], fresh: bool = False) -> int:
        # A schema with nothing applied may lack django_migrations: the stock path creates
        # it (and there is always something to apply, so no plan is worked out first).
        if fresh:
            return self._migrate_one_by_one(names)
        executor, plan = self._plan_for(names[0])
        if not plan:
            return 0
        if not self._replayable(plan):
            return self._migrate_one_by_one(names)
        statements = [sql for sql in executor.loader.collect_sql(plan) if not _only_comments(sql)]
        rows = [(m.app_label, m.name) for m, _ in plan]
        creates_models = any(
            isinstance(op, CreateModel | DeleteModel) for m, _ in plan for op in m.operations
        )
        self.say(
            f"fleet: applying {len(rows)} migration(s), {len(statements)} statement(s) "
            f"to {len(names)} schema(s)"
        )
        for name in names:
            self.replay_retrying(name, statements, rows, plan if creates_models else None)
        return len(names)

    def replay_retrying(self, schema_name: str, statements, rows, plan_for_signal=None) -> None:
        """``_replay``, again after a pause when a lock wait timed out (the schema's
        transaction was rolled back whole), at most ``MIGRATION_LOCK_RETRIES`` times."""
        retries = int(getattr(settings, "MIGRATION_LOCK_RETRIES", 3))
        for attempt in range(retries + 1):
            try:
                return self._replay(schema_name, statements, rows, plan_for_signal)
            except OperationalError as exc:
                if attempt == retries or not _lock_wait_timed_out(exc):
                    raise
                pause = min(2**attempt, 10)
                logger.warning(
                    "fleet: %s: a lock wait timed out; again in %ss (%d/%d)",
                    schema_name, pause, attempt + 1, retries,
                )  # fmt: skip
                time.sleep(pause)

    def _replay(self, schema_name: str, statements, rows, plan_for_signal) -> None:
        self.connection.set_schema(schema_name)
        now = timezone.now()
        with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            # Qualified, so it can never land in public.django_migrations.
            cursor.executemany(
                f"INSERT INTO {schemas.quote(schema_name)}.django_migrations "  # noqa: S608
                "(app, name, applied) VALUES (%s, %s, %s)",
                [(app, name, now) for app, name in rows],
            )
            if plan_for_signal is not None:
                # New models need their content types and permissions, as after `migrate`.
                from django.apps import apps as global_apps
                from django.core.management.sql import emit_post_migrate_signal

                emit_post_migrate_signal(0, False, self.alias, apps=global_apps,
                                         plan=plan_for_signal)  # fmt: skip

    def _refresh_spare_fingerprints(self) -> None:
        from .models import SpareSchema

        self.connection.set_schema_to_public()
        target = schemas.expected_migrations()
        spares = list(SpareSchema.objects.exclude(fingerprint=schemas.current_fingerprint()))
        if not spares:
            return
        applied = self._applied([s.schema_name for s in spares])
        for spare in spares:
            if target <= applied.get(spare.schema_name, set()):
                spare.fingerprint = schemas.current_fingerprint()
                spare.save(update_fields=["fingerprint"])
