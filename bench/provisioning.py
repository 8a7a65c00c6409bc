"""Benchmark: signup to a ready workspace, the pool path against the stock migrate path.

Both paths go through the same service, ``signup.services.workspace_create``
(tenant row, schema, domain, owner account, audit event, one transaction), with
the owner's password already hashed (the hash is timed on its own):

* fast: a pre-migrated spare schema is claimed and renamed;
* stock: the pool is empty, so the schema is created and every tenant
  migration is run into it with django-tenants' standard executor, which is
  what ``TenantMixin.save()`` with ``auto_create_schema`` does.

The fast path is measured with 1 and with 500 existing tenants. The pool is
refilled before each series, outside the timed region. The 500 tenants are
made through the fast path itself, from spares built in bulk by replaying a
recorded migration (see ``_common.SchemaRecipe``).

Run: ``.venv/bin/python bench/provisioning.py`` (or ``make bench B=provisioning``).
Env: ``BENCH_SAMPLES`` (fast signups per series, default 40), ``BENCH_STOCK_SAMPLES``
(default 7), ``BENCH_FLEET`` (default 500). Last line: one JSON object.
"""

import logging
import os
import time

import _common

DB_NAME = "bench_provisioning"
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "40"))
STOCK_SAMPLES = int(os.environ.get("BENCH_STOCK_SAMPLES", "7"))
FLEET = int(os.environ.get("BENCH_FLEET", "500"))
WARMUP = 10


def main() -> None:
    _common.use_environment(DB_NAME)
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    # The stock series empties the pool on purpose; its warning is expected here.
    logging.getLogger("tenants.creation").setLevel(logging.ERROR)

    from django.db import transaction

    from core.principal import SYSTEM
    from signup.services import workspace_create as create_workspace
    from tenants import schemas
    from tenants.models import SpareSchema, Tenant

    _common.migrate_public()
    password_hash, hash_times = _common.password_hash_seconds()

    counter = iter(range(1_000_000))

    def signup() -> tuple[float, str]:
        n = next(counter)
        start = time.perf_counter()
        made = create_workspace(
            actor=SYSTEM,
            name=f"Bench Workspace {n}", slug=f"w{n:06d}", owner_email=f"owner{n}@bench.test",
            owner_name="Bench Owner", owner_password_hash=password_hash,
        )  # fmt: skip
        return time.perf_counter() - start, made.path

    def fast_series() -> list[float]:
        recipe.make_spares(SAMPLES + 2 - SpareSchema.objects.count())
        # Warm-up signups, rolled back so the fleet keeps its size and the spares return.
        for _ in range(WARMUP):
            with transaction.atomic():
                signup()
                transaction.set_rollback(True)
        times = []
        for _ in range(SAMPLES):
            seconds, path = signup()
            assert path == "pool", path
            times.append(seconds)
        return times

    print(f"database {DB_NAME}; {SAMPLES} fast and {STOCK_SAMPLES} stock signups per series")
    start = time.perf_counter()
    recipe = _common.SchemaRecipe()
    recipe.check()
    print(
        f"recorded migration: {len(recipe.statements)} statements "
        f"({time.perf_counter() - start:.1f} s, replay checked against the template)"
    )

    # One existing tenant.
    recipe.make_spares(1)
    signup()
    existing_1 = Tenant.objects.count()
    fast_1 = fast_series()

    # Stock: the pool is empty, so the same service migrates a new schema.
    for spare in SpareSchema.objects.all():
        schemas.drop_schema(spare.schema_name)
        spare.delete()
    existing_stock = Tenant.objects.count()
    stock = []
    for _ in range(STOCK_SAMPLES):
        seconds, path = signup()
        assert path == "migrate", path
        stock.append(seconds)

    # Grow the fleet to FLEET tenants through the fast path, untimed.
    grow = FLEET - Tenant.objects.count()
    start = time.perf_counter()
    if grow > 0:
        recipe.make_spares(grow)
        for _ in range(grow):
            signup()
    existing_500 = Tenant.objects.count()
    print(f"grew the fleet to {existing_500} tenants in {time.perf_counter() - start:.1f} s")
    fast_500 = fast_series()

    print()
    hash_fig = _common.describe_ms("owner password hash (default hasher)", hash_times)
    f1 = _common.describe_ms(f"fast path, {existing_1} existing tenant(s)", fast_1)
    st = _common.describe_ms(f"stock migrate path, {existing_stock}+ existing tenants", stock)
    f500 = _common.describe_ms(f"fast path, {existing_500} existing tenants", fast_500)
    ratio = st["p50"] / f1["p50"]
    growth = f500["p50"] / f1["p50"]
    print()
    print(f"target fast p50 <= 50 ms:          {f1['p50']:.1f} ms  {_met(f1['p50'] <= 50)}")
    print(f"target stock/fast >= 20x:          {ratio:.1f}x  {_met(ratio >= 20)}")
    print(f"target p50 at {existing_500} <= 1.25x at 1:  {growth:.2f}x  {_met(growth <= 1.25)}")

    from django.db import connections

    connections.close_all()
    if not os.environ.get("BENCH_KEEP_DB"):
        _common.drop_database(DB_NAME)
    _common.flush_redis()
    _common.emit(
        {
            "fast_p50_ms": round(f1["p50"], 2),
            "fast_p90_ms": round(f1["p90"], 2),
            "stock_p50_ms": round(st["p50"], 2),
            "stock_p90_ms": round(st["p90"], 2),
            "ratio": round(ratio, 1),
            "fast_p50_ms_at_500": round(f500["p50"], 2),
            "fast_p90_ms_at_500": round(f500["p90"], 2),
            "tenants_at_500": existing_500,
            "hash_ms": round(hash_fig["p50"], 1),
        }
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


if __name__ == "__main__":
    main()
