"""Recording: the fields of an event, masking, transactions, context, tenant and auth events."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

import audit.services as audit
from audit.hashing import content_digest_sql
from audit.masking import MASK
from audit.models import AuditEvent
from core import context
from core.principal import SYSTEM, Actor, SupportSession
from signup.services import tenant_provision
from tenants.services import tenant_reactivate, tenant_suspend
from tests.audit.helpers import assert_audited, capture_audit
from tests.conftest import PASSWORD, client_for, sign_in


def test_record_writes_every_field_and_a_matching_content_hash(tenant_a, owner_a):
    # The principal gives actor and impersonator; the request context the rest.
    actor = SupportSession(user=owner_a, vendor=Actor("vendor", "7", "support@vendor.test"))
    with context.bind(
        ip="203.0.113.9", user_agent="Firefox\nInjected: yes", request_id="req-1",
    ):  # fmt: skip
        event = audit.record(
            "staff.role_changed",
            actor=actor, target=owner_a, tenant=tenant_a,
            changes={"role": {"before": "member", "after": "admin"}},
        )  # fmt: skip
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.chain == tenant_a.schema_name and event.tenant_id == tenant_a.pk
    assert (event.actor_type, event.actor_id, event.actor_display) == (
        "user", str(owner_a.pk), owner_a.email,
    )  # fmt: skip
    assert (event.impersonator_id, event.impersonator_display) == ("7", "support@vendor.test")
    assert event.action == "staff.role_changed"
    assert (event.target_type, event.target_id) == ("accounts.user", str(owner_a.pk))
    assert event.target_display == str(owner_a)
    assert event.ip == "203.0.113.9" and event.request_id == "req-1"
    assert event.user_agent == "Firefox Injected: yes"  # no control characters kept
    assert event.changes == {"role": {"before": "member", "after": "admin"}}
    assert event.occurred_at.utcoffset().total_seconds() == 0
    with connection.cursor() as cursor:
        sql = f"SELECT {content_digest_sql('e')} FROM audit_auditevent e WHERE id = %s"
        cursor.execute(sql, [event.pk])
        assert len(event.content_hash) == 64
        assert cursor.fetchone() == (event.content_hash,)


def test_secrets_are_masked_at_any_depth(lone_chain):
    event = audit.record(
        "integration.updated",
        actor=SYSTEM,
        tenant=lone_chain,
        changes={
            "password": "hunter2",
            "client_secret": {"before": "a", "after": "b"},
            "settings": {"api_key": "k-123", "name": "CRM"},
            "webhooks": [{"url": "https://x.test", "signing_token": "t"}],
            "name": {"before": "Old", "after": "New"},
        },
    )
    stored = AuditEvent.objects.get(pk=event.pk).changes
    assert stored["password"] == MASK and stored["client_secret"] == MASK
    assert stored["settings"] == {"api_key": MASK, "name": "CRM"}
    assert stored["webhooks"] == [{"url": "https://x.test", "signing_token": MASK}]
    assert stored["name"] == {"before": "Old", "after": "New"}
    assert "hunter2" not in str(stored) and "k-123" not in str(stored)


def test_record_costs_exactly_one_insert(lone_chain):
    with CaptureQueriesContext(connection) as queries:
        audit.record("thing.done", actor=SYSTEM, tenant=lone_chain, changes={"n": 1})
    # django-tenants may first issue its lazy SET search_path; nothing else may run.
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET ")]
    assert len(statements) == 1
    assert statements[0].startswith('INSERT INTO "audit_auditevent"')


def test_event_rolls_back_with_the_change(lone_chain):
    with capture_audit() as events, pytest.raises(RuntimeError), transaction.atomic():
        audit.record("thing.done", actor=SYSTEM, tenant=lone_chain)
        raise RuntimeError("the change failed")
    assert events == []


def test_change_fails_when_the_event_cannot_be_written(tenant_a, owner_a):
    """An event the database refuses (here a null byte in JSON) aborts the change."""
    with schema_context(tenant_a.schema_name):
        with pytest.raises(DatabaseError), transaction.atomic():
            owner_a.full_name = "Renamed"
            owner_a.save(update_fields=["full_name"])
            audit.record("staff.renamed", actor=SYSTEM, target=owner_a, changes={"note": "\x00"})
        owner_a.refresh_from_db()
    assert owner_a.full_name != "Renamed"


def test_events_outlive_the_user_they_name(tenant_a):
    with schema_context(tenant_a.schema_name):
        from accounts.models import User

        user = User.objects.create_user("leaver@alpha.test", PASSWORD, full_name="Lea Ver")
        event = audit.record("staff.invited", actor=SYSTEM, target=user)
        user_pk = user.pk
        user.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.target_id, event.target_display) == (str(user_pk), "Lea Ver")


def test_tenant_lifecycle_events(tenant_b):
    with assert_audited(
        (
            "tenant.suspended",
            tenant_b,
            {"state": {"before": "active", "after": "suspended"}, "reason": "unpaid invoice"},
        )
    ):
        tenant_suspend(actor=SYSTEM, tenant=tenant_b, reason="unpaid invoice")
    with assert_audited(("tenant.activated", tenant_b)):
        tenant_reactivate(actor=SYSTEM, tenant=tenant_b, reason="test")
    event = AuditEvent.objects.filter(action="tenant.activated").latest("id")
    assert event.chain == tenant_b.schema_name and event.actor_type == "system"


def test_tenant_created_event(db):
    with capture_audit() as events:
        workspace = tenant_provision(
            actor=SYSTEM,
            slug="gamma", name="Gamma Ltd", owner_email="owner@gamma.test",
            owner_password=PASSWORD, owner_name="Gamma Owner",
        )  # fmt: skip
    assert events.actions == ["tenant.created"]
    (event,) = events
    assert event.chain == workspace.tenant.schema_name
    assert (event.actor_type, event.actor_id) == ("user", str(workspace.owner_id))
    assert event.changes["slug"] == "gamma" and "owner_password" not in event.changes


def test_middleware_binds_request_context(owner_client_a, tenant_a, owner_a):
    with capture_audit() as events:
        response = owner_client_a.get(
            "/audit/export.jsonl",
            HTTP_USER_AGENT="AuditTest/1.0",
            HTTP_X_REQUEST_ID="abc-123",
            REMOTE_ADDR="198.51.100.7",
        )
        b"".join(response.streaming_content)
    assert response["X-Request-ID"] == "abc-123"
    (event,) = events
    assert event.action == "audit.exported"
    assert (event.actor_type, event.actor_id) == ("user", str(owner_a.pk))
    assert (event.ip, event.user_agent, event.request_id) == (
        "198.51.100.7", "AuditTest/1.0", "abc-123",
    )  # fmt: skip


def test_request_id_header_that_is_not_a_token_is_replaced(owner_client_a):
    response = owner_client_a.get("/audit/", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 32


class TestAuthEvents:
    def test_sign_in_and_out(self, tenant_a, owner_a):
        client = client_for(tenant_a)
        target = ("accounts.user", owner_a.pk, owner_a.email)
        with assert_audited(("auth.login", target)) as events:
            assert sign_in(client, owner_a.email)
        assert (events[0].actor_type, events[0].actor_id) == ("user", str(owner_a.pk))
        assert events[0].chain == tenant_a.schema_name
        with assert_audited(("auth.logout", target)):
            client.post("/accounts/logout/")

    def test_failed_sign_in_names_the_account_not_the_password(self, tenant_a, owner_a):
        client = client_for(tenant_a)
        with assert_audited(("auth.login_failed", ("accounts.user", owner_a.pk, ""))) as events:
            assert not sign_in(client, owner_a.email, password="wrong-password-1")
        event = events[0]
        assert event.actor_type == "anonymous"
        assert event.changes == {"username": owner_a.email}
        assert "wrong-password-1" not in str(event.changes)

    def test_failed_sign_in_of_unknown_account(self, tenant_a):
        with capture_audit() as events:
            sign_in(client_for(tenant_a), "nobody@alpha.test", password="x-Wrong-pass-9")
        (event,) = events
        assert (event.action, event.target_id, event.target_display) == (
            "auth.login_failed", "", "nobody@alpha.test",
        )  # fmt: skip


def test_celery_wrapper_binds_the_request_id(lone_chain):
    from celery import shared_task

    @shared_task(name="tests.audit.record_task")
    def record_task(chain: str) -> int:
        return audit.record("task.ran", actor=SYSTEM, tenant=type(lone_chain)(chain, 1)).pk

    with context.bind(ip="192.0.2.1", request_id="req-77"):
        first = record_task.delay(lone_chain.schema_name).get()
    first = AuditEvent.objects.get(pk=first)
    assert (first.actor_type, first.actor_id, first.request_id) == ("system", "", "req-77")
    assert first.ip is None  # a task carries the request id, not the client's address
    assert context.current() == context.RequestContext()  # the task's binding did not leak


def test_record_refuses_an_undeclared_action(lone_chain):
    from audit.registry import UndeclaredAction

    with pytest.raises(UndeclaredAction, match=r"staff\.invitd"), transaction.atomic():
        audit.record("staff.invitd", actor=SYSTEM, tenant=lone_chain)
    assert not AuditEvent.objects.filter(chain=lone_chain.schema_name).exists()
