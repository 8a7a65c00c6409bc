"""Low-level schema operations: create, migrate, rename, drop, and the migration fingerprint.

Identifiers cannot be bound as query parameters, so every schema name passes
``check_schema_name`` before it is quoted into SQL.
"""

import hashlib
import re
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(name: str) -> str:
    if not _SCHEMA_RE.match(name) or name.startswith("pg_") or name == "public":
        raise ValueError(f"Not a valid tenant schema name: {name!r}")
    return name


def quote(name: str) -> str:
    return connection.ops.quote_name(check_schema_name(name))


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def create_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote(name)}")


def rename_schema(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(old)} RENAME TO {quote(new)}")


def drop_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(name)} CASCADE")


def migrate_schema(name: str) -> None:
    """Run every tenant migration into ``name`` (the slow, always-correct path).

    Works inside an outer ``transaction.atomic()``: PostgreSQL DDL is
    transactional, so a rollback leaves no half-migrated schema behind.
    """
    call_command(
        "migrate_schemas",
        schema_name=name,
        executor="standard",
        interactive=False,
        verbosity=0,
    )
    connection.set_schema_to_public()


def tenant_app_labels() -> set[str]:
    names = set(settings.TENANT_APPS)
    return {config.label for config in apps.get_app_configs() if config.name in names}


@lru_cache(maxsize=1)
def expected_migrations() -> frozenset[tuple[str, str]]:
    """Every migration the code has for the apps that live in tenant schemas."""
    # Imported here: the web and the scan workers never load the migration machinery.
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = tenant_app_labels()
    return frozenset(node for node in loader.graph.nodes if node[0] in labels)


@lru_cache(maxsize=1)
def current_fingerprint() -> str:
    """A digest of ``expected_migrations()``: equal fingerprints, equal schemas."""
    return fingerprint_of(expected_migrations())


def fingerprint_of(migrations) -> str:
    digest = hashlib.sha256()
    for app_label, name in sorted(migrations):
        digest.update(f"{app_label}.{name}\n".encode())
    return digest.hexdigest()
