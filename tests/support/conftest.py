"""Fixtures of the support-session tests: vendor staff, consent, a controlled clock, and a
browser (test client) handed off into a support session."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

import support.clock
from accounts.models import User
from support.models import SupportPolicy
from support.services import support_handoff_issue, support_session_start
from tests.accounts.helpers import make_user
from tests.conftest import PASSWORD, client_for


@pytest.fixture(autouse=True)
def _clean_default_cache():
    caches["default"].clear()
    yield
    caches["default"].clear()


class Clock:
    """``support.clock.now`` under the test's control: starts at the real time, moves
    only when told."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(support.clock, "now", fake)
    return fake


def make_vendor(email: str, role: str = "support") -> User:
    """Vendor staff: a public-schema account with ``is_staff`` and a vendor role."""
    with schema_context("public"):
        return User.objects.create_user(
            email=email, password=PASSWORD, is_staff=True, vendor_role=role, full_name=email
        )


@pytest.fixture
def vendor(db) -> User:
    return make_vendor("agent@vendor.test", "support")


@pytest.fixture
def viewer(db) -> User:
    return make_vendor("viewer@vendor.test", "viewer")


@pytest.fixture
def vendor_admin(db) -> User:
    return make_vendor("boss@vendor.test", "admin")


def consent(tenant, mode: str, **extra) -> SupportPolicy:
    """The workspace's consent set directly (setup; the service has its own tests)."""
    policy, _created = SupportPolicy.objects.update_or_create(
        tenant=tenant, defaults={"mode": mode, **extra}
    )
    return policy


@pytest.fixture
def member_a(tenant_a):
    return make_user(tenant_a, "member@alpha.test", role="member", full_name="Mia Member")


def start(vendor, tenant, user, mode: str = "read_only", **extra):
    return support_session_start(
        actor=vendor,
        tenant_slug=tenant.slug,
        user_id=user.pk,
        reason=extra.pop("reason", "Customer cannot find an upload"),
        ticket=extra.pop("ticket", "T-1234"),
        mode=mode,
    )


def handed_off_client(vendor, tenant, row):
    """A fresh browser (test client) on ``tenant``'s host, signed in by the hand-off."""
    token = support_handoff_issue(actor=vendor, session_id=str(row.pk)).token
    client = client_for(tenant)
    response = client.post("/support/handoff/", {"token": token})
    assert response.status_code == 302, response.content[:500]
    connection.set_schema_to_public()  # the request left the connection on the workspace
    return client


def user_row(tenant, pk):
    with schema_context(tenant.schema_name):
        return User.objects.get(pk=pk)
