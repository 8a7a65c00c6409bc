"""Benchmark of the vendor console's fleet (issue 12). Run from the repo root with the
local services up:

    .venv/bin/python bench/console.py [--fleet 10000] [--small 100] [--samples 60]

Works in its own database ``bench_console`` (dropped and re-created) and Redis db 10.
Creates the public rows of a fleet (Tenant, Domain, WorkspaceUsage: no schemas, the
console never visits them) and times, in-process through the whole middleware stack
(Django's test client, a vendor signed in with password and second factor):

- the **search page** (``/console/``), cycling through a name fragment, an owner email,
  a domain, a state filter, a read-only filter and a sort by last activity: each one
  an audited search;
- a **workspace page** (``/console/w/<id>/``, audited in the workspace's chain), of a
  random workspace each time.

Both at ``--small`` workspaces and at ``--fleet``. Targets: p50 <= 50 ms at the full
fleet, and <= 1.5x the p50 at the small one. Prints its figures, then one JSON line.
"""

import argparse
import os
import random
import time

import _common

DB_NAME = "bench_console"
_common.use_environment(DB_NAME, "config.settings.test")
DEADLINE_S = 300
BATCH = 2000


def log(message: str) -> None:
    print(message, flush=True)


# Company-name words: 9 stems x 30 endings, so a name search matches about 1% of the
# fleet, as searching for a customer by name does (not a third of it).
_STEMS = ["acme", "nordwind", "berg", "sol", "delta", "quartz", "linden", "hafen", "iris"]
_ENDS = [
    "",
    "a",
    "ix",
    "on",
    "tech",
    "ware",
    "med",
    "bau",
    "log",
    "net",
    "pro",
    "tra",
    "vox",
    "lux",
    "plan",
    "werk",
    "haus",
    "feld",
    "mark",
    "stein",
    "tal",
    "hof",
    "burg",
    "dorf",
    "kraft",
    "licht",
    "see",
    "wald",
    "land",
    "hain",
]
WORDS = [stem + end for stem in _STEMS for end in _ENDS]


def add_fleet(start: int, stop: int) -> None:
    """Public rows of workspaces ``start``..``stop - 1`` (bulk inserts, no schemas)."""
    from django.conf import settings
    from django.utils import timezone

    from billing.models import Plan
    from console.models import WorkspaceUsage
    from console.usage import sync_listing
    from tenants.models import Domain, Tenant

    rng = random.Random(start)
    plans = list(Plan.objects.all())
    words = WORDS
    now = timezone.now()
    for low in range(start, stop, BATCH):
        high = min(stop, low + BATCH)
        tenants = [
            Tenant(
                schema_name=f"t_bench{i}",
                name=f"{rng.choice(words).title()} {rng.choice(words).title()} {i}",
                slug=f"bench{i}",
                owner_email=f"owner{i}@{rng.choice(words)}{i % 97}.example",
                state="suspended" if i % 50 == 0 else "active",
                plan=plans[i % len(plans)],
                read_only_reasons=["vendor_freeze"] if i % 200 == 0 else [],
            )
            for i in range(low, high)
        ]
        Tenant.objects.bulk_create(tenants, batch_size=BATCH)
        ids = dict(
            Tenant.objects.filter(slug__in=[t.slug for t in tenants]).values_list("slug", "pk")
        )
        Domain.objects.bulk_create(
            [
                Domain(
                    domain=f"bench{i}.{settings.BASE_DOMAIN}",
                    tenant_id=ids[f"bench{i}"],
                    is_primary=True,
                )
                for i in range(low, high)
            ],
            batch_size=BATCH,
        )
        WorkspaceUsage.objects.bulk_create(
            [
                WorkspaceUsage(
                    tenant_id=ids[f"bench{i}"],
                    active_staff=(seats := rng.randint(1, 40)),
                    seats_used=seats + 1,
                    pending_invitations=1,
                    storage_bytes=rng.randint(0, 10**10),
                    documents_count=rng.randint(0, 5000),
                    last_activity_at=now - rng.random() * (now - now.replace(year=now.year - 1)),
                    admins=[{"email": f"owner{i}@example.test", "name": "", "role": "owner"}],
                )
                for i in range(low, high)
            ],
            batch_size=BATCH,
        )
        # The listing columns (search text, copies of name, state, read-only, plan) as
        # the console's receivers write them for a saved tenant: bulk_create sends none.
        sync_listing(list(ids.values()))
    from django.db import connection

    # As autovacuum would after such a load: statistics, and the trigram (GIN) index's
    # pending list merged.
    with connection.cursor() as cursor:
        for table in ("tenants_tenant", "tenants_domain", "console_workspaceusage"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def vendor_client():
    from django.conf import settings
    from django.test import Client
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    user = User.objects.create_user(
        "bench@vendor.test", _common.BENCH_PASSWORD, is_staff=True, vendor_role="admin"
    )
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    response = client.post(
        "/console/login/", {"username": user.email, "password": _common.BENCH_PASSWORD}
    )
    assert response.status_code == 302, response
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"
    response = client.post("/console/login/verify/", {"code": code})
    assert response["Location"] == "/console/", "sign-in failed"
    return client


SEARCHES = [
    {"q": "nordwindwerk"},
    {"q": "owner42@"},
    {"q": "bench77.localhost"},
    {"state": "suspended"},
    {"read_only": "yes"},
    {"sort": "-activity"},
    {"q": "acme", "sort": "name", "page": "2"},  # a broad one: ~11% of the fleet
]


def measure(client, fleet: int, samples: int, deadline: float) -> dict:
    from tenants.models import Tenant

    ids = list(Tenant.objects.values_list("pk", flat=True))
    rng = random.Random(fleet)
    for params in SEARCHES:  # warm-up: every query plan once
        assert client.get("/console/", params).status_code == 200
    search, page = [], []
    for n in range(samples):
        if time.monotonic() > deadline:
            break
        params = SEARCHES[n % len(SEARCHES)]
        started = time.perf_counter()
        response = client.get("/console/", params)
        search.append(time.perf_counter() - started)
        assert response.status_code == 200
        started = time.perf_counter()
        response = client.get(f"/console/w/{rng.choice(ids)}/")
        page.append(time.perf_counter() - started)
        assert response.status_code == 200
    return {
        "search": _common.describe_ms(f"search page, {fleet} workspaces", search),
        "workspace": _common.describe_ms(f"workspace page, {fleet} workspaces", page),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleet", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--samples", type=int, default=70)
    args = parser.parse_args()
    deadline = time.monotonic() + DEADLINE_S

    _common.recreate_database(DB_NAME)
    _common.setup()
    _common.migrate_public()
    try:
        client = vendor_client()
        add_fleet(0, args.small)
        small = measure(client, args.small, args.samples, deadline)
        started = time.monotonic()
        add_fleet(args.small, args.fleet)
        log(
            f"created {args.fleet - args.small} more workspaces' rows in "
            f"{time.monotonic() - started:.1f} s"
        )
        large = measure(client, args.fleet, args.samples, deadline)
    finally:
        from django.db import connections

        connections.close_all()
        _common.drop_database(DB_NAME)
    result = {
        "fleet": args.fleet,
        "small": args.small,
        "search_p50_ms": round(large["search"]["p50"], 2),
        "workspace_p50_ms": round(large["workspace"]["p50"], 2),
        "search_p50_ms_small": round(small["search"]["p50"], 2),
        "workspace_p50_ms_small": round(small["workspace"]["p50"], 2),
        "search_ratio": round(large["search"]["p50"] / small["search"]["p50"], 2),
        "workspace_ratio": round(large["workspace"]["p50"] / small["workspace"]["p50"], 2),
    }
    # The machine's load while measuring: on a shared machine the absolute figures are
    # inflated by it; the ratios much less so.
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count()
    result["ok"] = (
        result["search_p50_ms"] <= 50
        and result["workspace_p50_ms"] <= 50
        and result["search_ratio"] <= 1.5
        and result["workspace_ratio"] <= 1.5
    )
    _common.emit(result)


if __name__ == "__main__":
    main()
