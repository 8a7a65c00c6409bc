"""Benchmark: ``migrate_schemas`` across a fleet, our executor against the stock one.

A fleet of ``BENCH_FLEET`` (500) tenants, each with its own schema, plus a few
spare schemas, all carrying a throwaway tenant app (``_fleetapp``) whose
migrations this script writes into a temporary package. Each measurement is
the wall time of ``manage.py migrate_schemas --noinput`` in a new process, as
an operator runs it after a deploy:

1. no-op: nothing to migrate (our executor);
2. one column: a new migration adds a nullable column (our executor);
3. the column and its ``django_migrations`` row are removed again with plain SQL,
   and the same migration is applied with ``--executor standard`` (stock).

Every schema is checked for the column and the migration row after each run.
The fleet is made in seconds: spare schemas are built by replaying a recorded
migration (``_common.SchemaRecipe``) and claimed through the real signup
service. ``BENCH_STOCK_NOOP=1`` also times a stock no-op run (about two more
minutes).

Run: ``.venv/bin/python bench/migrations.py`` (or ``make bench B=migrations``).
Last line: one JSON object.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

DB_NAME = "bench_migrations"
FLEET = int(os.environ.get("BENCH_FLEET", "500"))
SPARES = 3
APP = "benchfleet"
TABLE = "benchfleet_note"
NEW_MIGRATION = "0002_note_extra"

INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
            ],
        ),
    ]
"""

ONE_COLUMN = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchfleet", "0001_initial")]
    operations = [
        migrations.AddField(model_name="note", name="extra", field=models.IntegerField(null=True)),
    ]
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-migrations-") as tmp:
        package = Path(tmp) / "benchfleet_migrations"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "0001_initial.py").write_text(INITIAL)
        os.environ["BENCH_MIGRATIONS_DIR"] = tmp
        env = _common.use_environment(DB_NAME, "_site.settings_fleet")
        run(env, package)


def run(env: dict, package: Path) -> None:
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    from django.db import connection, connections

    from core.principal import SYSTEM
    from signup.services import workspace_create as create_workspace
    from tenants.models import SpareSchema, Tenant

    _common.migrate_public()
    start = time.perf_counter()
    recipe = _common.SchemaRecipe()
    recipe.check()
    recipe.make_spares(FLEET + SPARES)
    password_hash, _ = _common.password_hash_seconds(1)
    for n in range(FLEET):
        create_workspace(
            actor=SYSTEM,
            name=f"Fleet {n}", slug=f"f{n:05d}", owner_email=f"owner{n}@fleet.test",
            owner_name="Owner", owner_password_hash=password_hash,
        )  # fmt: skip
    tenants = list(Tenant.objects.values_list("schema_name", flat=True))
    spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
    print(
        f"fleet: {len(tenants)} tenant schemas and {len(spares)} spares "
        f"made in {time.perf_counter() - start:.1f} s"
    )
    connections.close_all()

    noop_s, out = migrate(env)
    assert "0 schema(s) migrated" in out, out
    print(f"no-op, our executor:           {noop_s:7.2f} s   ({_last(out)})")

    (package / f"{NEW_MIGRATION}.py").write_text(ONE_COLUMN)
    one_s, out = migrate(env)
    check(connection, tenants + spares)
    print(f"one column, our executor:      {one_s:7.2f} s   ({_last(out)})")

    unapply(connection, tenants)
    stock_s, out = migrate(env, "--executor", "standard")
    check(connection, tenants)
    print(f"one column, stock standard:    {stock_s:7.2f} s")

    result = {
        "noop_s_500": round(noop_s, 2),
        "one_column_s_500": round(one_s, 2),
        "stock_one_column_s_500": round(stock_s, 2),
        "tenants": len(tenants),
    }
    if os.environ.get("BENCH_STOCK_NOOP"):
        stock_noop_s, _ = migrate(env, "--executor", "standard")
        print(f"no-op, stock standard:         {stock_noop_s:7.2f} s")
        result["stock_noop_s_500"] = round(stock_noop_s, 2)

    print()
    print(f"target no-op <= 5 s:       {noop_s:.2f} s  {_met(noop_s <= 5)}")
    print(f"target one column <= 30 s: {one_s:.2f} s  {_met(one_s <= 30)}")
    print(f"stock / ours, one column:  {stock_s / one_s:.1f}x")
    connections.close_all()
    if not os.environ.get("BENCH_KEEP_DB"):
        _common.drop_database(DB_NAME)
    _common.flush_redis()
    _common.emit(result)


def migrate(env: dict, *extra: str) -> tuple[float, str]:
    """Wall time and output of ``manage.py migrate_schemas`` in a new process."""
    command = [sys.executable, str(_common.ROOT / "manage.py"), "migrate_schemas", "--noinput"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, *extra], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"migrate_schemas failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def check(connection, schema_names: list[str]) -> None:
    """Every schema has the new column and records the migration; raise otherwise."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = 'extra' AND table_schema = ANY(%s)",
            [TABLE, schema_names],
        )
        with_column = cursor.fetchone()[0]
        recorded = 0
        for start in range(0, len(schema_names), 200):
            part = schema_names[start : start + 200]
            cursor.execute(
                " UNION ALL ".join(
                    f'SELECT count(*) FROM "{name}".django_migrations '
                    f"WHERE app = '{APP}' AND name = '{NEW_MIGRATION}'"
                    for name in part
                )
            )
            recorded += sum(row[0] for row in cursor.fetchall())
    if with_column != len(schema_names) or recorded != len(schema_names):
        raise SystemExit(
            f"only {with_column} column(s) and {recorded} migration row(s) "
            f"in {len(schema_names)} schemas"
        )


def unapply(connection, schema_names: list[str]) -> None:
    """Drop the column and forget the migration in every schema, as before it was applied."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for name in schema_names:
            cursor.execute(f'ALTER TABLE "{name}".{TABLE} DROP COLUMN extra')
            cursor.execute(
                f'DELETE FROM "{name}".django_migrations WHERE app = %s AND name = %s',
                [APP, NEW_MIGRATION],
            )


def _last(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


if __name__ == "__main__":
    main()
