"""The fleet migration executor against real schemas: replay, skips, spares, fallbacks.

Each test adds a migration to the ``accounts`` app (a tenant app) by pointing
``MIGRATION_MODULES`` at a temporary copy of its migrations plus one new file.
Everything runs inside the test's transaction (PostgreSQL DDL is transactional),
so the schemas are as before once the test ends.
"""

import shutil
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tenants import fleet_migrations, schemas
from tenants.fleet_migrations import FleetExecutor, FleetMigrator
from tenants.models import SpareSchema

ACCOUNTS_MIGRATIONS = Path(__file__).resolve().parents[2] / "platform/accounts/migrations"
# The test migrations follow the app's newest one, whatever it is by now.
ACCOUNTS_LEAF = max(path.stem for path in ACCOUNTS_MIGRATIONS.glob("[0-9]*.py"))

ADD_COLUMN = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "@LEAF@")]
    operations = [
        migrations.AddField(
            model_name="user", name="fleet_probe", field=models.IntegerField(null=True)
        ),
    ]
"""

RUN_PYTHON = """from django.db import migrations


def mark_users(apps, schema_editor):
    apps.get_model("accounts", "User").objects.update(full_name="marked by migration")


class Migration(migrations.Migration):
    dependencies = [("accounts", "@LEAF@")]
    operations = [migrations.RunPython(mark_users, migrations.RunPython.noop)]
"""


def _with_migration(tmp_path: Path, name: str, source: str):
    package = f"fleet_test_migrations_{uuid.uuid4().hex[:8]}"
    target = tmp_path / package
    shutil.copytree(ACCOUNTS_MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / f"{name}.py").write_text(source.replace("@LEAF@", ACCOUNTS_LEAF))
    sys.path.insert(0, str(tmp_path))
    schemas.expected_migrations.cache_clear()
    schemas.current_fingerprint.cache_clear()
    with override_settings(MIGRATION_MODULES={"accounts": package}):
        schemas.expected_migrations.cache_clear()
        schemas.current_fingerprint.cache_clear()
        yield ("accounts", name)
    sys.path.remove(str(tmp_path))
    schemas.expected_migrations.cache_clear()
    schemas.current_fingerprint.cache_clear()


@pytest.fixture
def column_migration(tmp_path):
    yield from _with_migration(tmp_path, "9001_fleet_probe", ADD_COLUMN)


@pytest.fixture
def python_migration(tmp_path):
    yield from _with_migration(tmp_path, "9001_mark_users", RUN_PYTHON)


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail the test if the executor falls back to the stock, one-schema-at-a-time path."""

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the standard executor")

    monkeypatch.setattr(fleet_migrations, "run_migrations", refuse)


def has_column(schema_name: str, column: str = "fleet_probe") -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'accounts_user' AND column_name = %s",
            [schema_name, column],
        )
        return cursor.fetchone() is not None


def recorded(schema_name: str, migration: tuple[str, str]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {connection.ops.quote_name(schema_name)}.django_migrations "
            "WHERE app = %s AND name = %s",
            list(migration),
        )
        return cursor.fetchone() is not None


def migrate(names: list[str]) -> dict[str, int]:
    return FleetMigrator("default", {"verbosity": 0}).migrate(names)


def test_new_migration_is_replayed_on_every_schema(
    tenant_a, tenant_b, column_migration, no_fallback
):
    names = [tenant_a.schema_name, tenant_b.schema_name]
    assert not any(has_column(name) for name in names)

    assert migrate(names) == {"migrated": 2, "skipped": 0}

    for name in names:
        assert has_column(name)
        assert recorded(name, column_migration)
    # Nothing leaked into the public schema.
    assert not has_column("public")
    assert not recorded("public", column_migration)
    assert connection.schema_name == "public"


def test_schemas_already_up_to_date_are_skipped(tenant_a, tenant_b, column_migration, no_fallback):
    assert migrate([tenant_a.schema_name]) == {"migrated": 1, "skipped": 0}

    assert migrate([tenant_a.schema_name, tenant_b.schema_name]) == {"migrated": 1, "skipped": 1}

    # Nothing left to do: the fleet is read in a few queries, none of them per schema.
    with CaptureQueriesContext(connection) as one:
        assert migrate([tenant_a.schema_name]) == {"migrated": 0, "skipped": 1}
    with CaptureQueriesContext(connection) as two:
        assert migrate([tenant_a.schema_name, tenant_b.schema_name]) == {
            "migrated": 0,
            "skipped": 2,
        }
    assert len(two) == len(one)
    assert not any("ALTER TABLE" in q["sql"] for q in two.captured_queries)


def test_spares_are_migrated_and_their_fingerprint_refreshed(
    tenant_a, tenant_b, column_migration, no_fallback
):
    spares = list(SpareSchema.objects.all())
    assert spares, "the suite keeps a pool of spare schemas"
    new_fingerprint = schemas.current_fingerprint()
    assert all(spare.fingerprint != new_fingerprint for spare in spares)

    executor = FleetExecutor(args=[], options={"verbosity": 0})
    executor.run_migrations(tenants=[tenant_a.schema_name, tenant_b.schema_name])

    for spare in SpareSchema.objects.all():
        assert spare.fingerprint == new_fingerprint
        assert has_column(spare.schema_name)
        assert recorded(spare.schema_name, column_migration)


def test_plan_with_run_python_falls_back_to_the_standard_executor(
    tenant_a, tenant_b, python_migration, monkeypatch
):
    calls = []
    original = fleet_migrations.run_migrations

    def spy(args, options, codename, schema_name, *rest, **kwargs):
        calls.append(schema_name)
        return original(args, options, codename, schema_name, *rest, **kwargs)

    monkeypatch.setattr(fleet_migrations, "run_migrations", spy)
    names = [tenant_a.schema_name, tenant_b.schema_name]

    assert migrate(names) == {"migrated": 2, "skipped": 0}

    assert sorted(calls) == sorted(names)
    connection.set_schema_to_public()
    for name in names:
        assert recorded(name, python_migration)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT full_name FROM {connection.ops.quote_name(name)}.accounts_user"
            )
            assert cursor.fetchall() == [("marked by migration",)]


def test_missing_schemas_are_skipped(tenant_a, column_migration, no_fallback, caplog):
    result = migrate([tenant_a.schema_name, "t_no_such_schema"])

    assert result == {"migrated": 1, "skipped": 0}
    assert has_column(tenant_a.schema_name)
    assert "t_no_such_schema" in caplog.text
