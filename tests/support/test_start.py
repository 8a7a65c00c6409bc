"""Starting a support session: consent, the vendor role (in the service), reason and ticket,
the row in the public schema, the workspace's chain, the owners' email."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from support.models import SupportSession
from support.services import support_session_start
from tests.audit.helpers import capture_audit

from .conftest import consent, start


def test_consent_is_off_by_default_and_a_start_is_refused(vendor, tenant_a, member_a):
    with pytest.raises(ValidationError, match="not consented"):
        start(vendor, tenant_a, member_a)
    assert not SupportSession.objects.exists()


def test_start_writes_the_row_and_the_workspace_chain_in_one_go_and_mails_the_owners(
    vendor, tenant_a, member_a, owner_a, django_capture_on_commit_callbacks
):
    consent(tenant_a, "read_only")
    mail.outbox.clear()
    with capture_audit() as events, django_capture_on_commit_callbacks(execute=True):
        row = start(vendor, tenant_a, member_a)
    assert (row.mode, row.user_id, row.vendor_email) == ("read_only", member_a.pk, vendor.email)
    assert (row.expires_at - row.started_at).total_seconds() == 7200
    in_workspace = [e for e in events if e.chain == tenant_a.schema_name]
    (event,) = in_workspace
    assert event.action == "support.session_started"
    assert (event.actor_type, event.actor_id) == ("vendor", str(vendor.pk))
    assert event.changes["reason"] == "Customer cannot find an upload"
    assert event.changes["ticket"] == "T-1234"
    assert [e.chain for e in events if e.chain == ""] == [""]  # the platform's chain too
    (message,) = [m for m in mail.outbox if owner_a.email in m.to]
    assert vendor.email in message.body and "T-1234" in message.body
    assert "/settings/support/" in message.body


def test_owners_are_not_mailed_when_the_workspace_turned_it_off(
    vendor, tenant_a, member_a, django_capture_on_commit_callbacks
):
    consent(tenant_a, "read_only", notify_owners=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        start(vendor, tenant_a, member_a)
    assert mail.outbox == []


def test_a_vendor_without_the_support_role_is_refused_by_the_service(viewer, tenant_a, member_a):
    consent(tenant_a, "read_write")
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        start(viewer, tenant_a, member_a)
    assert not SupportSession.objects.exists() and AuditEvent.objects.count() == before


def test_a_workspace_user_cannot_start_a_session(owner_a, tenant_a, member_a):
    consent(tenant_a, "read_write")
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        start(owner_a, tenant_a, member_a)
    assert not SupportSession.objects.exists()


def test_read_write_needs_the_workspaces_read_write_consent(vendor, tenant_a, member_a):
    consent(tenant_a, "read_only")
    with pytest.raises(ValidationError, match="read and write"):
        start(vendor, tenant_a, member_a, mode="read_write")
    consent(tenant_a, "read_write")
    assert start(vendor, tenant_a, member_a, mode="read_write").mode == "read_write"


def test_consent_until_a_past_date_no_longer_counts(vendor, tenant_a, member_a, clock):
    consent(tenant_a, "read_only", until=clock.now.date())
    start(vendor, tenant_a, member_a)  # the last day still counts
    clock.advance(days=1)
    with pytest.raises(ValidationError, match="not consented"):
        start(vendor, tenant_a, member_a)


@pytest.mark.parametrize(
    ("field", "values"),
    [("reason", {"reason": "  "}), ("ticket", {"ticket": ""}), ("mode", {"mode": "god"})],
)
def test_a_reason_a_ticket_and_a_known_mode_are_required(vendor, tenant_a, member_a, field, values):
    consent(tenant_a, "read_write")
    arguments = {"reason": "Why", "ticket": "T-1", "mode": "read_only", **values}
    with pytest.raises(ValidationError) as refused:
        support_session_start(
            actor=vendor, tenant_slug=tenant_a.slug, user_id=member_a.pk, **arguments
        )
    assert field in refused.value.message_dict
    assert not SupportSession.objects.exists()


def test_the_user_must_be_an_active_user_of_that_workspace(vendor, tenant_a, tenant_b, member_a):
    consent(tenant_a, "read_only")
    with pytest.raises(ValidationError, match="active user"):
        start(vendor, tenant_a, type("U", (), {"pk": 987654})())
    consent(tenant_b, "read_only")
    with pytest.raises(ValidationError, match="active user"):  # alpha's user id, in beta
        start(vendor, tenant_b, member_a)


def test_the_owners_email_is_in_their_language(
    vendor, tenant_a, member_a, owner_a, django_capture_on_commit_callbacks
):
    with schema_context(tenant_a.schema_name):
        type(owner_a).objects.filter(pk=owner_a.pk).update(language="de")
    consent(tenant_a, "read_only")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        start(vendor, tenant_a, member_a)
    (message,) = [m for m in mail.outbox if owner_a.email in m.to]
    assert message.subject == "Support-Sitzung in Alpha Partners gestartet"
    assert "Nur lesen" in message.body and "Audit-Protokoll" in message.body
