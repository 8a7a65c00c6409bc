"""Two owners demote each other at the same moment: exactly one demotion may pass, the
other is refused (the last-owner rule, or the actor is no longer an owner), and no
deadlock happens."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django_tenants.utils import schema_context

from accounts import services
from accounts.models import User

from .helpers import make_user
from .live import committed_workspace, reset_staff


@pytest.fixture
def race_workspace(django_db_blocker):
    with django_db_blocker.unblock():
        tenant = committed_workspace("staffrace", "Staff Race")
        reset_staff(tenant)
        yield tenant
        reset_staff(tenant)


def test_concurrent_demotions_keep_one_active_owner(race_workspace, django_db_blocker):
    tenant = race_workspace
    with django_db_blocker.unblock():
        first = User.objects.none()
        with schema_context(tenant.schema_name):
            first = User.objects.get(email=f"owner@{tenant.slug}.test")
        second = make_user(tenant, "second@staffrace.test", role="owner")
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def demote(actor, target) -> None:
            try:
                with schema_context(tenant.schema_name):
                    barrier.wait(timeout=5)
                    services.staff_change_role(actor=actor, user=target, role="admin")
                outcomes.append("demoted")
            except (ValidationError, PermissionDenied):
                outcomes.append("refused")
            except Exception as error:  # reported by the assertion below
                outcomes.append(repr(error))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=demote, args=(first, second)),
            threading.Thread(target=demote, args=(second, first)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(outcomes) == ["demoted", "refused"]
        with schema_context(tenant.schema_name):
            assert User.objects.filter(role="owner", is_active=True).count() == 1
