"""Integrity: the database refuses changes, every kind of tampering is detected,
retention leaves a signed checkpoint that verifies, and the command reports it all."""

import itertools
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

import audit.services as audit
from audit.hashing import content_digest_sql
from audit.models import AuditChainLink, AuditCheckpoint, AuditEvent
from audit.services import checkpoint_chain, seal_chain, verify_chain
from audit.services import retention_apply_chain as apply_retention
from core.principal import SYSTEM


def _events(chain_tenant, n: int, prefix: str = "thing") -> list[AuditEvent]:
    return [
        audit.record(f"{prefix}.done", actor=SYSTEM, tenant=chain_tenant, changes={"n": i})
        for i in range(n)
    ]


def _sql(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _without_trigger(table: str, sql: str, params=None) -> None:
    """Tamper as an attacker who can disable the trigger (the table owner) would."""
    _sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    _sql(sql, params)
    _sql(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def test_the_app_role_is_not_a_superuser(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %(event)s",
        "DELETE FROM audit_auditevent WHERE id = %(event)s",
        "UPDATE audit_auditchainlink SET hash = 'x' WHERE event_id = %(event)s",
        "DELETE FROM audit_auditchainlink WHERE event_id = %(event)s",
        "UPDATE audit_auditcheckpoint SET seq = 0 WHERE id = %(checkpoint)s",
        "DELETE FROM audit_auditcheckpoint WHERE id = %(checkpoint)s",
        "TRUNCATE audit_auditevent",
    ],
)
def test_database_rejects_update_delete_truncate(lone_chain, sql):
    (event,) = _events(lone_chain, 1)
    checkpoint = checkpoint_chain(chain=lone_chain.schema_name)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql(sql, {"event": event.pk, "checkpoint": checkpoint.pk})


def test_retention_flag_does_not_unlock_updates_or_checkpoints(lone_chain):
    (event,) = _events(lone_chain, 1)
    checkpoint = checkpoint_chain(chain=lone_chain.schema_name)
    for sql in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %(event)s",
        "DELETE FROM audit_auditcheckpoint WHERE id = %(checkpoint)s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql("SET LOCAL atrium.audit_retention = 'on'")
            _sql(sql, {"event": event.pk, "checkpoint": checkpoint.pk})


def test_sealing_links_events_in_a_valid_chain(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 5)
    assert seal_chain(chain=chain) == 5
    assert seal_chain(chain=chain) == 0  # idempotent
    links = list(AuditChainLink.objects.filter(chain=chain).order_by("seq"))
    assert [link.seq for link in links] == [1, 2, 3, 4, 5]
    assert [link.event_id for link in links] == [e.pk for e in events]
    assert all(a.hash == b.prev_hash for a, b in itertools.pairwise(links))
    result = verify_chain(chain=chain)
    assert (result.ok, result.events, result.first_bad) == (True, 5, None)


def test_changed_event_is_detected(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 4)
    seal_chain(chain=chain)
    _without_trigger(
        "audit_auditevent",
        "UPDATE audit_auditevent SET actor_display = 'someone else' WHERE id = %s",
        [events[2].pk],
    )
    result = verify_chain(chain=chain)
    assert not result.ok
    assert result.first_bad["event_id"] == events[2].pk
    assert result.first_bad["reason"] == "event content was changed"


def test_changed_event_with_recomputed_content_hash_is_detected(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    seal_chain(chain=chain)
    # The attacker rewrites the event and its content hash consistently.
    _without_trigger(
        "audit_auditevent",
        "UPDATE audit_auditevent SET changes = '{\"n\": 999}' WHERE id = %s",
        [events[1].pk],
    )
    _without_trigger(
        "audit_auditevent",
        f"UPDATE audit_auditevent e SET content_hash = {content_digest_sql('e')} WHERE id = %s",
        [events[1].pk],
    )
    result = verify_chain(chain=chain)
    assert result.first_bad["event_id"] == events[1].pk
    assert result.first_bad["reason"] == "chain link hash does not match"


def test_removed_event_is_detected(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 4)
    seal_chain(chain=chain)
    _without_trigger(
        "audit_auditevent", "DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk]
    )
    result = verify_chain(chain=chain)
    assert (result.first_bad["event_id"], result.first_bad["reason"]) == (
        events[1].pk, "event was removed",
    )  # fmt: skip


def test_removed_event_and_link_is_detected(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 4)
    seal_chain(chain=chain)
    _without_trigger(
        "audit_auditevent", "DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk]
    )
    _without_trigger(
        "audit_auditchainlink",
        "DELETE FROM audit_auditchainlink WHERE event_id = %s",
        [events[1].pk],
    )
    result = verify_chain(chain=chain)
    assert result.first_bad["seq"] == 2 and result.first_bad["reason"] == "chain link 2 is removed"


def test_event_inserted_out_of_order_is_detected(lone_chain):
    """A forged event slipped in below the chain's top with an old date is never sealed."""
    chain = lone_chain.schema_name
    with transaction.atomic():
        sid = transaction.savepoint()
        free_id = audit.record("placeholder.made", actor=SYSTEM, tenant=lone_chain).pk
        transaction.savepoint_rollback(sid)
    _events(lone_chain, 3)
    seal_chain(chain=chain)
    fields = {
        "chain": chain, "occurred_at": timezone.now() - timedelta(days=3), "tenant_id": 990_000,
        "actor_type": "user", "actor_id": "1", "actor_display": "owner", "impersonator_id": "",
        "impersonator_display": "", "action": "staff.removed", "target_type": "accounts.user",
        "target_id": "9", "target_display": "x", "ip": None, "user_agent": "", "request_id": "",
        "changes": {},
    }  # fmt: skip
    AuditEvent.objects.create(id=free_id, **fields)  # the trigger hashes it like any other
    result = verify_chain(chain=chain)
    assert not result.ok
    assert result.first_bad["event_id"] == free_id
    assert "out of order" in result.first_bad["reason"]


def test_forged_link_in_the_middle_is_detected(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    seal_chain(chain=chain)
    # Re-point link 2 at a new forged event: its hash no longer matches.
    forged = audit.record("forged.event", actor=SYSTEM, tenant=lone_chain)
    _without_trigger(
        "audit_auditchainlink",
        "UPDATE audit_auditchainlink SET event_id = %s WHERE event_id = %s",
        [forged.pk, events[1].pk],
    )
    result = verify_chain(chain=chain, seal=False)
    assert result.first_bad["seq"] == 2
    assert result.first_bad["reason"] == "chain link hash does not match"


def test_truncated_tail_is_detected_by_a_signed_checkpoint(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    assert checkpoint_chain(chain=chain).seq == 3
    for table, column in (("audit_auditchainlink", "event_id"), ("audit_auditevent", "id")):
        _without_trigger(table, f"DELETE FROM {table} WHERE {column} = %s", [events[2].pk])
    result = verify_chain(chain=chain)
    assert not result.ok and "signed checkpoint covers seq 3" in result.first_bad["reason"]


def test_forged_checkpoint_signature_is_detected(lone_chain):
    chain = lone_chain.schema_name
    _events(lone_chain, 2)
    checkpoint = checkpoint_chain(chain=chain)
    _without_trigger(
        "audit_auditcheckpoint",
        "UPDATE audit_auditcheckpoint SET seq = 1 WHERE id = %s",
        [checkpoint.pk],
    )
    result = verify_chain(chain=chain)
    assert not result.ok and "bad signature" in result.first_bad["reason"]


def test_retention_removes_old_events_and_the_chain_still_verifies(lone_chain):
    chain = lone_chain.schema_name
    old = _events(lone_chain, 3, prefix="old")
    seal_chain(chain=chain)
    cutoff = timezone.now()
    kept = _events(lone_chain, 2, prefix="new")
    seal_chain(chain=chain)

    result = apply_retention(chain=chain, cutoff=cutoff)
    assert (result.removed, result.through_seq, result.refused) == (3, 3, "")
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in kept]).count() == 2
    checkpoint = AuditCheckpoint.objects.get(pk=result.checkpoint_id)
    assert (checkpoint.kind, checkpoint.seq, checkpoint.events_removed) == ("retention", 3, 3)

    verified = verify_chain(chain=chain)
    assert (verified.ok, verified.events) == (True, 2)
    _events(lone_chain, 2, prefix="later")  # the chain continues after the checkpoint
    verified = verify_chain(chain=chain)
    assert (verified.ok, verified.events) == (True, 4)
    # Removing everything leaves the checkpoint as the chain's restart point.
    assert apply_retention(chain=chain, cutoff=timezone.now()).removed == 4
    _events(lone_chain, 1, prefix="after")
    verified = verify_chain(chain=chain)
    assert (verified.ok, verified.events) == (True, 1)


def test_retention_refuses_a_tampered_chain(lone_chain):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    seal_chain(chain=chain)
    _without_trigger(
        "audit_auditevent", "UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [events[0].pk]
    )
    result = apply_retention(chain=chain, cutoff=timezone.now())
    assert result.refused and result.removed == 0
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()


def test_daily_retention_task_survives_a_refused_chain(lone_chain, settings, caplog):
    """A chain that does not verify is refused and logged; the periodic task returns
    normally instead of exiting, which would take its Celery worker down."""
    from audit.tasks import retention_apply_all as retention_task

    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    seal_chain(chain=chain)
    _without_trigger(
        "audit_auditevent", "UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [events[0].pk]
    )
    settings.AUDIT_RETENTION_DAYS = 0  # everything is due
    with pytest.raises(SystemExit):
        call_command("audit_retention")  # operators still get a failing exit code
    assert retention_task.apply().successful()
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()
    assert "audit retention refused" in caplog.text


def test_retention_command_uses_the_per_tenant_period(tenant_a, capsys):
    from audit.models import AuditRetention

    old = audit.record("old.thing", actor=SYSTEM, tenant=tenant_a)
    seal_chain(chain=tenant_a.schema_name)
    AuditRetention.objects.create(chain=tenant_a.schema_name, days=30)
    assert audit.retention_days(chain=tenant_a.schema_name) == 30
    call_command("audit_retention", tenant="alpha", dry_run=True)
    assert AuditEvent.objects.filter(pk=old.pk).exists()  # 30 days have not passed


def test_retention_reads_every_chains_period_in_one_query(tenant_a, tenant_b, lone_chain):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.models import AuditRetention

    AuditRetention.objects.create(chain=tenant_a.schema_name, days=30)
    AuditRetention.objects.create(chain=tenant_b.schema_name, days=400)
    chains = [tenant_a.schema_name, tenant_b.schema_name, lone_chain.schema_name, ""]
    with CaptureQueriesContext(connection) as queries:
        applied = audit.retention_apply(actor=SYSTEM, chains=chains, dry_run=True)
    assert [(days, result.chain) for days, result in applied] == [
        (30, tenant_a.schema_name), (400, tenant_b.schema_name),
        (365, lone_chain.schema_name), (365, ""),
    ]  # fmt: skip
    assert sum("audit_auditretention" in q["sql"] for q in queries.captured_queries) == 1


@pytest.mark.parametrize("command", ["verify_audit", "audit_retention"])
def test_audit_commands_refuse_an_unknown_workspace_alike(db, command):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No workspace with the address 'nowhere'"):
        call_command(command, tenant="nowhere")


def test_verify_audit_command_json_and_exit_code(lone_chain, tenant_a, capsys):
    chain = lone_chain.schema_name
    events = _events(lone_chain, 3)
    call_command("verify_audit", json=True)
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["first_bad"] is None and report["events"] >= 3

    call_command("verify_audit", tenant="alpha", json=True)
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and [c["chain"] for c in report["chains"]] == [tenant_a.schema_name]

    _without_trigger(
        "audit_auditevent", "UPDATE audit_auditevent SET ip = '10.0.0.1' WHERE id = %s",
        [events[1].pk],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit", json=True)
    assert exit_info.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["first_bad"]["event_id"] == events[1].pk
    assert report["first_bad"]["chain"] == chain

    with pytest.raises(SystemExit):
        call_command("verify_audit")
    assert f"first bad: event {events[1].pk}" in capsys.readouterr().err


def test_retention_override_is_vendor_only_and_audited(tenant_a, owner_a):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        audit.retention_set(actor=owner_a, tenant=tenant_a, days=400)
    with pytest.raises(ValidationError):
        audit.retention_set(actor=SYSTEM, tenant=tenant_a, days=1)
    from tests.audit.helpers import assert_audited

    with assert_audited(
        ("audit.retention_changed", tenant_a, {"retention_days": {"before": 365, "after": 400}})
    ):
        audit.retention_set(actor=SYSTEM, tenant=tenant_a, days=400)
    assert audit.retention_days(chain=tenant_a.schema_name) == 400
