"""Spare schemas for the suite's pool, copied from one migrated spare instead of migrated
one by one.

Migrating a tenant schema runs every tenant migration (15-20 s each on the loaded 2-core
machine). The suite needs a few dozen spares: the baseline's, and one after every
committed signup (``tenant_provision`` refills the pool on commit). So one schema of the
session's database, the reference, is migrated for real (``migrate_schema``, once per
database: the workers' copies have it), dumped once per process (``pg_dump``, schema and
rows: the ``django_migrations`` rows come along) and every spare is that dump replayed
under the spare's name, in the caller's transaction, as ``migrate_schema`` would be:
a fraction of a second, and the same schema (``tests/tenants/test_spare_clone.py``
compares a copy with the reference, catalogue by catalogue). The reference is never a
spare: no test claims or changes it.

Only ``tenants.pool.make_spare`` is replaced. Everything that migrates a schema
itself (signup without spares, the fleet migrations, ``migrate_schemas``) still does.
``ATRIUM_TEST_MIGRATED_SPARES=1`` turns the copying off; so does Citus (its
distributed tables are not a plain dump's business).
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

from django.db import connection, transaction

# What the replay leaves out of pg_dump's plain output: psql's meta-commands
# (``\restrict``), session settings (``SET``, ``set_config('search_path', ...)``: they
# would stay on the suite's connection) and the schema's own CREATE (made first).
_SKIPPED = re.compile(r"^(\\|SET |SELECT pg_catalog\.set_config\(|CREATE SCHEMA )")


class SpareCloner:
    def __init__(self) -> None:
        self.template: str | None = None  # the dumped spare's name
        self.sql: str | None = None

    @staticmethod
    def wanted() -> bool:
        if os.environ.get("ATRIUM_TEST_MIGRATED_SPARES") == "1":
            return False
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
            return cursor.fetchone() is None

    # Neither a spare nor a workspace: no signup claims it, no fleet migration or
    # restore touches it, and the orphan sweep (``spare_``/``t_`` names) leaves it.
    REFERENCE = "reference_spare"

    def migrated_reference(self) -> str:
        """The reference schema, migrated for real unless this database has it already
        (a worker's copy of the database the first worker built)."""
        from tenants import schemas

        if not schemas.schema_exists(self.REFERENCE):
            with transaction.atomic():
                schemas.create_schema(self.REFERENCE)
                schemas.migrate_schema(self.REFERENCE)
        return self.REFERENCE

    def take(self, schema_name: str) -> None:
        """Dump the migrated, committed spare ``schema_name``: later spares copy it."""
        from backups import pgtools

        database = pgtools.main_database()
        with connection.cursor() as cursor:
            dump = pgtools.checked_tool("pg_dump", pgtools.server_major(cursor))
        result = subprocess.run(
            [dump, "--schema", schema_name, "--inserts", "--no-owner"],
            env=database.env(), capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pg_dump of {schema_name} failed: {result.stderr[-2000:]}")
        lines = [line for line in result.stdout.splitlines() if not _SKIPPED.match(line)]
        self.template, self.sql = schema_name, "\n".join(lines)

    def copy_into(self, name: str) -> None:
        """Create ``name`` as a copy of the template (in the current transaction)."""
        from tenants import schemas

        assert self.sql and self.template
        pattern = re.compile(rf"\b{re.escape(self.template)}\b")
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {schemas.quote(name)}")
            cursor.execute(pattern.sub(name, self.sql))
        connection.set_schema_to_public()

    def make_spare(self) -> str:
        """``tenants.pool.make_spare``, copying instead of migrating."""
        from tenants import schemas
        from tenants.models import SpareSchema

        name = f"spare_{uuid.uuid4().hex[:16]}"
        with transaction.atomic():
            self.copy_into(name)
            SpareSchema.objects.create(schema_name=name, fingerprint=schemas.current_fingerprint())
        return name


CLONER = SpareCloner()
