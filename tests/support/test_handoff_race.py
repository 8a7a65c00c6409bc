"""One hand-off token posted twice at the same moment (two tabs, or a stolen copy racing
the real one): exactly one browser is signed in, the other refused."""

import threading

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from support.models import SupportPolicy, SupportSession
from support.services import support_handoff_issue
from tests.accounts.live import committed_workspace, reset_staff
from tests.conftest import client_for

from .conftest import make_vendor, start


@pytest.fixture
def race_workspace(django_db_blocker):
    with django_db_blocker.unblock():
        tenant = committed_workspace("supportrace", "Support Race")
        reset_staff(tenant)
        yield tenant
        with schema_context("public"):
            SupportSession.objects.filter(tenant=tenant).delete()
            SupportPolicy.objects.filter(tenant=tenant).delete()
        reset_staff(tenant)


def test_a_token_redeemed_twice_at_once_signs_in_one_browser(race_workspace, django_db_blocker):
    tenant = race_workspace
    with django_db_blocker.unblock():
        with schema_context("public"):
            vendor = User.objects.filter(email="racer@vendor.test").first()
        vendor = vendor or make_vendor("racer@vendor.test")
        SupportPolicy.objects.update_or_create(tenant=tenant, defaults={"mode": "read_only"})
        with schema_context(tenant.schema_name):
            owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        row = start(vendor, tenant, owner)
        token = support_handoff_issue(actor=vendor, session_id=str(row.pk)).token
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def redeem() -> None:
            try:
                client = client_for(tenant)
                barrier.wait(timeout=5)
                statuses.append(client.post("/support/handoff/", {"token": token}).status_code)
            except Exception as error:  # reported by the assertion below
                statuses.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=redeem) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(statuses) == [302, 403]
