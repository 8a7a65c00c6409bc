"""Vendor staff accounts are made by a service, audited, never by a bare row."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from tests.audit.helpers import capture_audit


@pytest.mark.django_db
def test_createsuperuser_goes_through_the_audited_service(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Vendor-pass-word-42")
    with capture_audit() as events:
        call_command("createsuperuser", "--email", "Ops@Vendor.test", "--noinput")
    user = User.objects.get(email="ops@vendor.test")
    assert user.is_staff and user.check_password("Vendor-pass-word-42")
    (event,) = events
    assert (event.action, event.chain, event.actor_type) == ("vendor_staff.created", "", "system")
    assert event.target_id == str(user.pk)


@pytest.mark.django_db
def test_createsuperuser_refuses_a_weak_password_and_makes_nothing(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "123")
    with capture_audit() as events, pytest.raises(CommandError):
        call_command("createsuperuser", "--email", "weak@vendor.test", "--noinput")
    assert not User.objects.filter(email="weak@vendor.test").exists() and events == []
