"""Redis down (killed, or hanging): workspace pages and sign-in are served from the
database, no request waits on the dead cache, and it is used again once it is back."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import schema_context

from accounts import selectors as account_selectors
from tenants import routing
from tests.conftest import client_for, host_of, sign_in
from tests.faults.conftest import point_caches_at
from tests.faults.processes import free_low_port

PAGES = ["/", "/documents/", "/account/", "/account/sessions/", "/staff/", "/audit/mine/"]


def _get_all(client) -> dict[str, int]:
    return {path: client.get(path).status_code for path in PAGES}


@pytest.mark.django_db
def test_pages_sign_in_and_downloads_keep_working_while_redis_is_down(
    cache_on_redis_server, fs_storage, tenant_a, owner_a, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a)
    client.raise_request_exception = False  # count 500s as a browser would see them
    assert sign_in(client, owner_a.email)
    with django_capture_on_commit_callbacks(execute=True):  # uploaded and scanned (eager)
        response = client.post(
            "/documents/upload/",
            {"files": SimpleUploadedFile("notes.txt", b"meeting notes")},
            HTTP_ACCEPT="application/json",
        )
    document_id = response.json()["documents"][0]["id"]
    assert set(_get_all(client).values()) == {200}  # route and policy now in Redis
    assert caches["routing"].get(host_of(tenant_a)) is not None

    cache_on_redis_server.stop()
    routing.clear_local()  # the in-process copy of the route has expired
    started = time.monotonic()
    assert set(_get_all(client).values()) == {200}
    fresh = client_for(tenant_a)
    fresh.raise_request_exception = False
    assert fresh.get("/accounts/login/").status_code == 200
    assert sign_in(fresh, owner_a.email)  # sessions live in PostgreSQL
    assert fresh.get("/").status_code == 200
    download = fresh.get(f"/documents/{document_id}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"meeting notes"
    # Rate-limited forms cannot count while Redis is away; they answer, not fail.
    assert fresh.post("/accounts/password-reset/", {"email": owner_a.email}).status_code == 302
    with schema_context(tenant_a.schema_name):
        assert account_selectors.workspace_policy() is not None
    assert time.monotonic() - started < 5  # no request waited on the dead Redis

    # Back: the cache fills again after the breaker's pause (RETRY_AFTER, 0.3 s here).
    cache_on_redis_server.start()
    time.sleep(0.4)
    routing.clear_local()
    assert client.get("/").status_code == 200
    assert caches["routing"].get(host_of(tenant_a)) is not None


@pytest.mark.django_db
def test_a_hanging_redis_costs_one_short_timeout_not_seconds_per_request(settings, tenant_a):
    # A server that accepts connections (the kernel's backlog) and never answers.
    port = free_low_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", port))
    silent.listen(64)
    try:
        point_caches_at(settings, f"redis://127.0.0.1:{port}/0", RETRY_AFTER=5)
        durations: list[float] = []

        def resolve_many() -> None:
            try:
                for _ in range(20):
                    routing.clear_local()
                    t0 = time.monotonic()
                    assert routing.resolve_host(host_of(tenant_a)).slug == "alpha"
                    durations.append(time.monotonic() - t0)
            finally:
                connection.close()  # this thread's own database connection

        thread = threading.Thread(target=resolve_many, daemon=True)
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "a hanging Redis blocked routing"
        assert len(durations) == 20
        assert durations[0] < 1.5  # one socket timeout (0.25 s configured)
        assert sum(durations[1:]) < 0.5  # then the breaker skips Redis altogether
    finally:
        silent.close()


@pytest.mark.django_db
def test_an_invalidation_made_while_redis_hangs_is_replayed_when_it_answers(
    cache_on_redis_server, tenant_a
):
    host = host_of(tenant_a)
    routing.resolve_host(host)
    cache = caches["routing"]
    assert cache.get(host) is not None
    # Redis stops answering (commands block) for a second: the workspace changes state
    # meanwhile, and its route's invalidation cannot reach Redis.
    cache_on_redis_server.command("CLIENT", "PAUSE", "1000", "ALL")
    routing.forget_host(host)
    time.sleep(1.2)
    # Redis answers again; the entry written before the pause must not come back.
    assert cache.get(host) is None
    routing.clear_local()
    assert routing.resolve_host(host).slug == "alpha"  # from the database, re-cached
    assert cache.get(host) is not None
