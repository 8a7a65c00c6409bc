"""The principal every service takes: read-only principals are refused by every write
service of every package's public face, and the audit event names actor and impersonator
from the principal alone."""

import inspect
from importlib import import_module

import pytest
from django.core.exceptions import PermissionDenied
from django_tenants.utils import schema_context

import audit.services as audit
from audit.models import AuditEvent
from core.errors import ReadOnlyError
from core.principal import ANONYMOUS, SYSTEM, Actor, AppPrincipal, SupportSession
from tests.audit.conftest import FakeTenant  # also declares the tests' own actions
from tests.audit.helpers import capture_audit

FACES = ["accounts.services", "audit.services", "backups.services", "signup.services",
         "tenants.services", "uploads.services", "billing.services", "api.services",
         "support.services", "offboarding.services", "console.services"]  # fmt: skip

# Public functions of the faces that change nothing a principal owns, with the reason.
NOT_WRITES = {
    "accounts.services.parse_emails": "parses text",
    "accounts.services.invitation_check": "reads an invitation",
    "accounts.services.handoff_token_make": "signs a token, writes nothing",
    "accounts.services.handoff_token_redeem": "reads the user a token names",
    "audit.services.record": "the primitive every service calls",
    "audit.services.record_in_both": "the primitive, in two chains",
    "audit.services.export_recorded": "records a read: read-only principals may export",
    "audit.services.known_chains": "reads",
    "audit.services.retention_days": "reads",
    "audit.services.retention_periods": "reads",
    # The log's own maintenance, run by the system (beat, commands): it links, signs and
    # trims the chains and is deliberately not itself an audited use case.
    "audit.services.seal_chain": "log maintenance",
    "audit.services.checkpoint_chain": "log maintenance",
    "audit.services.verify_chain": "log maintenance",
    "audit.services.verify_chains": "log maintenance",
    "audit.services.retention_apply_chain": "log maintenance",
    "signup.services.signup_validate": "validates input",
    "uploads.services.document_download": "a read (audited): read-only principals download",
    "uploads.services.download_url_expiry": "arithmetic",
    "uploads.services.scan_backoff": "arithmetic",
    "uploads.services.scan_lease_left": "reads",
    "tenants.services.forget_tenant": "drops a cache entry (no state of its own)",
    "backups.services.new_backup_id": "makes a name",
    "backups.services.backup_ids_in_storage": "reads",
    "backups.services.read_manifest": "reads",
    "backups.services.aside_schemas": "reads",
    "support.services.support_handoff_redeem": "a visitor's token check (the token is the proof)",
    "support.services.support_request_record": "records a request: read-only sessions' too",
    "support.services.support_session_end": "a read-only support session must end itself",
    "console.services.invitation_check": "reads the account an invitation names",
    "console.services.fleet_search_record": "records a read: a viewer's search",
    "console.services.workspace_view_record": "records a read: a viewer's look",
    "offboarding.services.export_download": "a read (audited); refuses any support session",
    "billing.services.account_ensure": "makes the trial row on first use (no decision)",
    "billing.services.register_usage": "wiring at start-up",
    "billing.services.register_owner_recipients": "wiring at start-up",
}


def _public_functions():
    for face in FACES:
        module = import_module(face)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if n[0] != "_"]
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{face}.{name}", obj


WRITES = [
    pytest.param(fn, id=path)
    for path, fn in _public_functions()
    if getattr(fn, "__write_service__", False)
]


def test_every_public_function_is_a_write_service_or_a_named_exception():
    unexplained = [
        path
        for path, fn in _public_functions()
        if not getattr(fn, "__write_service__", False) and path not in NOT_WRITES
    ]
    assert unexplained == []
    assert len(WRITES) >= 30


def test_write_services_take_a_keyword_only_actor():
    for param in WRITES:
        (fn,) = param.values
        signature = inspect.signature(inspect.unwrap(fn))
        actor = signature.parameters.get("actor")
        assert actor is not None and actor.kind is inspect.Parameter.KEYWORD_ONLY, fn
        assert all(
            p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values()
        ), fn
        entity, _sep, verb = fn.__name__.partition("_")
        assert entity and verb, fn


@pytest.fixture
def read_only_support(owner_a):
    return SupportSession(
        user=owner_a, vendor=Actor("vendor", "7", "support@vendor.test"), mode="read_only"
    )


@pytest.mark.parametrize("service", WRITES)
def test_every_write_service_refuses_a_read_only_principal(service, read_only_support, tenant_a):
    before = AuditEvent.objects.count()
    with (
        schema_context(tenant_a.schema_name),
        capture_audit() as events,
        pytest.raises(ReadOnlyError) as refused,
    ):
        service(actor=read_only_support)
    assert "read-only" in str(refused.value)
    assert events == [] and AuditEvent.objects.count() == before


def test_read_only_error_is_a_permission_denied():
    # So every page and API already answers it as a 403, with its own words.
    assert issubclass(ReadOnlyError, PermissionDenied)


def test_read_write_support_session_acts_as_the_user_with_the_vendor_as_impersonator(
    tenant_a, owner_a
):
    from accounts.services import workspace_policy_update

    session = SupportSession(
        user=owner_a, vendor=Actor("vendor", "7", "support@vendor.test"), mode="read_write"
    )
    with schema_context(tenant_a.schema_name), capture_audit() as events:
        workspace_policy_update(actor=session, require_2fa=True)
        workspace_policy_update(actor=owner_a, require_2fa=False)
    first, second = events
    assert (first.actor_type, first.actor_id) == ("user", str(owner_a.pk))
    assert (first.impersonator_id, first.impersonator_display) == ("7", "support@vendor.test")
    assert second.impersonator_id == "" and second.actor_id == str(owner_a.pk)


def test_support_session_cannot_change_the_users_credentials(tenant_a, owner_a):
    from accounts.services import password_change

    session = SupportSession(
        user=owner_a, vendor=Actor("vendor", "7", "support@vendor.test"), mode="read_write"
    )
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        password_change(
            actor=session,
            current_password="Correct-horse-battery-9",
            new_password="Another-horse-battery-9",
            current_session_key=None,
        )


def test_app_principal_names_the_app_for_a_user_or_alone(db, owner_a):
    lone_chain = FakeTenant(schema_name="t_principal_app", pk=990_001)
    for_user = AppPrincipal(app_id="app-1", name="CRM sync", user=owner_a)
    alone = AppPrincipal(app_id="app-1", name="CRM sync")
    with capture_audit() as events:
        audit.record("thing.done", actor=for_user, tenant=lone_chain)
        audit.record("thing.done", actor=alone, tenant=lone_chain)
    on_behalf, machine = events
    assert (on_behalf.actor_type, on_behalf.actor_id) == ("user", str(owner_a.pk))
    assert (on_behalf.impersonator_id, on_behalf.impersonator_display) == ("app-1", "CRM sync")
    assert (machine.actor_type, machine.actor_id, machine.impersonator_id) == (
        "api", "app-1", "",
    )  # fmt: skip


def test_system_and_visitors_are_principals_without_a_user():
    assert SYSTEM.acting_user is None and ANONYMOUS.acting_user is None
    assert SYSTEM.audit_actor.type == "system" and ANONYMOUS.audit_actor.type == "anonymous"
    assert not SYSTEM.read_only and not ANONYMOUS.read_only


def test_tenant_lifecycle_is_the_vendors_and_needs_a_reason(tenant_b, owner_a):
    from django.core.exceptions import ValidationError

    from tenants.services import tenant_suspend

    with pytest.raises(PermissionDenied):
        tenant_suspend(actor=owner_a, tenant=tenant_b, reason="I want to")
    with pytest.raises(ValidationError):
        tenant_suspend(actor=SYSTEM, tenant=tenant_b, reason="  ")
