"""The console's support pages: vendor staff only (the view), the role (the service);
a workspace user never reaches them."""

import time

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from support.models import SupportSession
from tests.conftest import PASSWORD, client_for
from tests.console_session import console_client

from .conftest import consent


@pytest.fixture
def console(vendor):
    return console_client(vendor)


def test_a_workspace_user_never_reaches_the_console(owner_client_a, owner_a, tenant_a):
    # On the workspace's host the console's paths do not exist...
    assert owner_client_a.get("/console/support/").status_code == 404
    # ...and on the public host a workspace's session is no session at all.
    public = client_for(None)
    public.cookies = owner_client_a.cookies
    response = public.get("/console/support/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_a_public_account_that_is_not_vendor_staff_is_refused(db):
    with schema_context("public"):
        user = get_user_model().objects.create_user(email="x@public.test", password=PASSWORD)
    client = console_client(user)
    # The console's gate (console.middleware) sends it to the console's sign-in, as it
    # does for the console's own pages.
    response = client.get("/console/support/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_the_vendor_starts_opens_and_ends_a_session(console, tenant_a, member_a, vendor):
    consent(tenant_a, "read_only")
    page = console.get("/console/support/start/", {"workspace": "alpha"})
    assert page.status_code == 200 and member_a.email.encode() in page.content
    refused = console.post(
        "/console/support/start/",
        {
            "workspace": "alpha",
            "user": member_a.pk,
            "reason": "",
            "ticket": "",
            "mode": "read_only",
        },
    )
    assert refused.status_code == 200 and not SupportSession.objects.exists()
    started = console.post(
        "/console/support/start/",
        {"workspace": "alpha", "user": member_a.pk, "reason": "Why", "ticket": "T-9",
         "mode": "read_only"},
    )  # fmt: skip
    row = SupportSession.objects.get()
    assert started["Location"] == f"/console/support/{row.pk}/"
    opened = console.post(f"/console/support/{row.pk}/open/")
    assert opened.status_code == 200 and opened["Cache-Control"] == "no-store"
    assert b'action="http://alpha.localhost/support/handoff/"' in opened.content
    assert b'name="token"' in opened.content
    assert console.post(f"/console/support/{row.pk}/end/").status_code == 302
    row.refresh_from_db()
    assert row.end_cause == "vendor"


def test_read_write_without_consent_is_refused_with_a_clear_message(console, tenant_a, member_a):
    consent(tenant_a, "read_only")
    page = console.post(
        "/console/support/start/",
        {"workspace": "alpha", "user": member_a.pk, "reason": "Why", "ticket": "T-9",
         "mode": "read_write"},
    )  # fmt: skip
    assert page.status_code == 200 and b"read and write" in page.content
    assert not SupportSession.objects.exists()


def test_a_viewer_can_neither_list_a_workspaces_users_nor_start(viewer, tenant_a, member_a):
    consent(tenant_a, "read_only")
    client = console_client(viewer)
    page = client.get("/console/support/start/", {"workspace": "alpha"})
    assert page.status_code == 403 and member_a.email.encode() not in page.content
    response = client.post(
        "/console/support/start/",
        {"workspace": "alpha", "user": member_a.pk, "reason": "Why", "ticket": "T-9",
         "mode": "read_only"},
    )  # fmt: skip
    assert response.status_code == 403 and not SupportSession.objects.exists()
    # The running sessions' list is the fleet's: a viewer reads it.
    assert client.get("/console/support/").status_code == 200


def test_another_vendors_session_page_is_refused(console, vendor_admin, tenant_a, member_a):
    from .conftest import start

    consent(tenant_a, "read_only")
    row = start(vendor_admin, tenant_a, member_a)
    assert console.get(f"/console/support/{row.pk}/").status_code == 403
    assert console.post(f"/console/support/{row.pk}/open/").status_code == 403


def test_a_vendor_without_a_verified_second_factor_is_sent_to_sign_in(vendor):
    client = console_client(vendor, verified=False)
    response = client.get("/console/support/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_the_console_session_limits_apply_to_the_support_pages(console, monkeypatch):
    assert console.get("/console/support/").status_code == 200
    later = time.time() + 31 * 60  # past the console's 30 minutes idle
    monkeypatch.setattr("console.session.now", lambda: later)
    response = console.get("/console/support/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]
