"""Benchmark: a token-authenticated API list against the same list from a session view.

One workspace with 20 documents; gunicorn (2 sync workers, production settings) on
loopback serves, in turns:

* api: ``GET /api/v1/documents/?page_size=20`` with ``Authorization: Bearer`` (token
  lookup, scopes, the grant's rate limit in Redis, cursor page, serializer);
* view: ``GET /bench/documents`` (``bench/_apisite``), the same 20 documents as JSON from
  a plain Django view behind ``login_required`` and the session cookie.

wrk (8 connections, 2 threads, 10 s timeout: the machine is shared) warms each up and
loads it for ``BENCH_DURATION`` seconds (default 10); the two take turns for
``BENCH_ROUNDS`` rounds (default 3), and the ratio is the median of each round's
api/view ratio. In-process, the statements one API request sends are counted
(Django's ``CaptureQueriesContext``), the token lookup among them. The plan's
``api_requests_per_minute`` is raised for the run (the limiter still counts every
request). Last line: ``{"api_rps", "view_rps", "ratio", "sql_per_request"}``.

Run: ``make bench B=api`` (wrk from Debian's ``wrk`` package, which make bench installs).
"""

import os
import shutil
import statistics

import _common

from core.principal import SYSTEM

DB_NAME = "bench_api"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = 3
CONNECTIONS = 8
WORKERS = 2
SLUG = "acme"
DOCUMENTS = 20


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: install Debian's wrk package (make bench does).")
    env = _common.use_environment(DB_NAME, "_apisite.settings")
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    host, token, cookie = prepare()
    counts = count_statements(host, token)
    for key, value in counts.items():
        print(f"  {key:<40} {value}")

    api = ("/api/v1/documents/?page_size=20", f"Authorization: Bearer {token}")
    view = ("/bench/documents", f"Cookie: atrium_session={cookie}")
    rps: dict[str, list[float]] = {"api": [], "view": []}
    with _common.gunicorn(workers=WORKERS, env=env) as (port, _server):
        base = f"http://127.0.0.1:{port}"
        for path, header in (api, view):
            name, _sep, value = header.partition(": ")
            _common.wait_until_serving(
                base + path, {"Host": host, name: value},
                lambda status, body: status == 200 and b'"results"' in body,
            )  # fmt: skip
        for round_no in range(ROUNDS):
            order = ["api", "view"] if round_no % 2 == 0 else ["view", "api"]
            for name in order:
                path, header = api if name == "api" else view
                load = {"connections": CONNECTIONS, "hosts": [host], "headers": [header]}
                # A 10 s timeout per request: the machine is shared.
                _common.wrk(base + path, seconds=WARMUP, timeout_s=10, **load)
                figure = _common.wrk(base + path, seconds=DURATION, timeout_s=10, **load)
                rps[name].append(figure)
                print(f"round {round_no + 1}: {name:<5} {figure:8.0f} req/s")
    median = statistics.median
    ratio = median(a / v for a, v in zip(rps["api"], rps["view"], strict=True))
    api_rps, view_rps = median(rps["api"]), median(rps["view"])
    print(f"\nmedian: api {api_rps:.0f} req/s, view {view_rps:.0f} req/s, ratio {ratio:.2f}")
    print(f"target ratio >= 0.8: {'met' if ratio >= 0.8 else 'NOT MET'}")
    print(
        "target <= 1 token lookup query per request: "
        f"{'met' if counts['token lookup statements per request'] <= 1 else 'NOT MET'}"
    )
    if not os.environ.get("BENCH_KEEP_DB"):
        _common.drop_database(DB_NAME)
    _common.flush_redis()
    _common.emit(
        {
            "api_rps": round(api_rps),
            "view_rps": round(view_rps),
            "ratio": round(ratio, 3),
            "sql_per_request": counts["statements per request"],
            "token_sql_per_request": counts["token lookup statements per request"],
        }
    )


def prepare() -> tuple[str, str, str]:
    """The workspace, its 20 documents, an app's token and the owner's session cookie."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import schema_context
    from oauth2_provider.models import AccessToken, set_token_value

    from api import services as api_services
    from billing.models import Plan
    from signup.services import workspace_create
    from tenants import pool
    from uploads.models import Document

    _common.migrate_public()
    pool.refill(1, actor=SYSTEM)
    password_hash, _ = _common.password_hash_seconds(1)
    workspace_create(
        actor=SYSTEM, name="Acme", slug=SLUG, owner_email="owner@acme.test",
        owner_name="Acme Owner", owner_password_hash=password_hash,
    )  # fmt: skip
    if not hasattr(Plan, "api_requests_per_minute"):
        raise SystemExit("billing.Plan.api_requests_per_minute is missing (the shared commit).")
    Plan.objects.update(api_requests_per_minute=10**9)
    host = f"{SLUG}.{settings.BASE_DOMAIN}"
    from tenants.models import Tenant

    with schema_context(Tenant.objects.get(slug=SLUG).schema_name):
        owner = get_user_model().objects.get(email="owner@acme.test")
        for n in range(DOCUMENTS):
            Document.objects.create(
                name=f"report-{n}.pdf", size=1000 + n, content_type="application/pdf",
                sha256="0" * 64, state="available", storage_key=f"k{n}", uploaded_by=owner,
            )  # fmt: skip
        new = api_services.app_create(
            actor=owner, name="Bench", grant_type="client-credentials",
            scopes=["documents:read"], role="admin",
        )  # fmt: skip
        raw = "bench-" + os.urandom(16).hex()
        token = AccessToken(
            application=new.application, scope="documents:read",
            expires=timezone.now() + timedelta(hours=2),
        )  # fmt: skip
        set_token_value(token, raw)
        token.save()
        browser = Client(HTTP_HOST=host)
        browser.force_login(owner)
        cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    return host, raw, cookie


def count_statements(host: str, token: str, requests: int = 100) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/documents/?page_size=20").status_code == 200
    with CaptureQueriesContext(connection) as captured:
        for _ in range(requests):
            response = client.get("/api/v1/documents/?page_size=20")
            assert response.status_code == 200 and len(response.json()["results"]) == 20
    sql = [q["sql"] for q in captured.captured_queries]
    return {
        "statements per request": len(sql) / requests,
        "token lookup statements per request": sum("oauth2_provider_accesstoken" in s for s in sql)
        / requests,
    }


if __name__ == "__main__":
    main()
