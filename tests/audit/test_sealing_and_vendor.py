"""A late commit left unsealed because no seal ran is sealed later, not reported as
tampering; pending events are counted; vendor staff read any chain through the
selectors (filters, detail, export), and nobody else can."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.utils import timezone

import audit.services as audit
from audit import selectors
from audit.hashing import GENESIS, link_hash
from audit.models import AuditChainLink
from audit.services import verify_chain
from core.principal import SYSTEM
from tests.audit.helpers import assert_audited


def test_late_commit_unsealed_for_longer_than_the_grace_is_sealed_not_flagged(
    lone_chain, monkeypatch
):
    """E1 was written, a seal passed over it (linking the later E2) while its
    transaction was still open, then no seal ran for 20 minutes (> the grace)."""
    chain = lone_chain.schema_name
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now - timedelta(minutes=20))
    late = audit.record("late.commit", actor=SYSTEM, tenant=lone_chain)
    monkeypatch.undo()
    later = audit.record("early.commit", actor=SYSTEM, tenant=lone_chain)
    AuditChainLink.objects.create(  # the seal of 19 minutes ago, as seal_chain writes it
        event_id=later.pk, chain=chain, seq=1, prev_hash=GENESIS,
        hash=link_hash(GENESIS, 1, chain, later.pk, later.content_hash),
        sealed_at=now - timedelta(minutes=19),
    )  # fmt: skip

    pending = verify_chain(chain=chain, seal=False)
    assert (pending.ok, pending.events, pending.pending) == (True, 1, 1)
    result = verify_chain(chain=chain)  # seals first
    assert (result.ok, result.events, result.pending, result.first_bad) == (True, 2, 0, None)
    link = AuditChainLink.objects.get(event_id=late.pk)
    assert link.seq == 2


def test_event_passed_over_long_after_it_was_written_is_still_out_of_order(lone_chain):
    chain = lone_chain.schema_name
    forged = audit.record("forged.event", actor=SYSTEM, tenant=lone_chain)
    later = audit.record("real.event", actor=SYSTEM, tenant=lone_chain)
    AuditChainLink.objects.create(
        event_id=later.pk, chain=chain, seq=1, prev_hash=GENESIS,
        hash=link_hash(GENESIS, 1, chain, later.pk, later.content_hash),
        sealed_at=forged.occurred_at + timedelta(minutes=11),  # a seal passed it by
    )  # fmt: skip
    result = verify_chain(chain=chain)
    assert not result.ok
    assert result.first_bad["event_id"] == forged.pk
    assert "out of order" in result.first_bad["reason"]


def test_verify_command_reports_pending_events(lone_chain, capsys):
    from django.core.management import call_command

    audit.record("thing.done", actor=SYSTEM, tenant=lone_chain)
    call_command("verify_audit", json=True, no_seal=True)
    report = json.loads(capsys.readouterr().out)
    mine = [c for c in report["chains"] if c["chain"] == lone_chain.schema_name]
    assert report["ok"] is True and mine == [
        {"chain": lone_chain.schema_name, "events": 0, "ok": True, "pending": 1}
    ]


def test_seal_callback_is_registered_at_most_once_per_interval(lone_chain, settings):
    from audit import services

    settings.AUDIT_SEAL_INTERVAL = 3600
    services._last_seal.pop(lone_chain.schema_name, None)
    with connection.cursor():
        before = len(connection.run_on_commit)
        for _ in range(3):
            audit.record("thing.done", actor=SYSTEM, tenant=lone_chain)
        assert len(connection.run_on_commit) - before == 1


@pytest.fixture
def vendor_staff(db):
    from accounts.models import User

    connection.set_schema_to_public()
    return User.objects.create_user("support@vendor.test", "x-Pass-42-word", is_staff=True)


@pytest.fixture
def public_user(db):
    from accounts.models import User

    connection.set_schema_to_public()
    return User.objects.create_user("someone@vendor.test", "x-Pass-42-word")


def test_vendor_reads_any_chain_with_filters_detail_and_export(vendor_staff, tenant_a, tenant_b):
    a_event = audit.record(
        "staff.invited", actor=SYSTEM, tenant=tenant_a, target=("accounts.user", 5, "x")
    )
    audit.record(
        "document.uploaded", actor=SYSTEM, tenant=tenant_a, target=("uploads.document", 9, "Q3.pdf")
    )
    b_event = audit.record("beta.only", actor=SYSTEM, tenant=tenant_b)
    platform_event = audit.record(
        "tenant.created", actor=SYSTEM, target=tenant_a
    )  # public: platform chain

    chain_a = tenant_a.schema_name
    events = selectors.chain_events(chain=chain_a, user=vendor_staff)
    assert a_event.pk in {e.pk for e in events} and b_event.pk not in {e.pk for e in events}
    narrowed = selectors.chain_events(
        chain=chain_a, user=vendor_staff, filters=selectors.EventFilter(action="staff.")
    )
    assert {e.action for e in narrowed} == {"staff.invited"}
    platform = selectors.chain_events(chain="", user=vendor_staff)
    assert platform_event.pk in {e.pk for e in platform}
    assert (
        selectors.chain_events(chain=tenant_b.schema_name, user=vendor_staff)
        .filter(pk=b_event.pk)
        .exists()
    )

    detail = selectors.vendor_event_detail(chain=chain_a, user=vendor_staff, event_id=a_event.pk)
    assert detail.pk == a_event.pk
    with pytest.raises(Http404):  # an event of B is not in A's chain
        selectors.vendor_event_detail(chain=chain_a, user=vendor_staff, event_id=b_event.pk)

    rows = list(csv.DictReader(io.StringIO("".join(selectors.export_csv(narrowed)))))
    assert [(r["id"], r["action"]) for r in rows] == [(str(a_event.pk), "staff.invited")]
    lines = "".join(selectors.export_jsonl(narrowed)).splitlines()
    assert [json.loads(line)["target_display"] for line in lines] == ["x"]

    # The export is an event of the tenant's own log, with the vendor as actor.
    assert vendor_staff.audit_actor.type == "vendor"
    with assert_audited("audit.exported") as written:
        audit.export_recorded(actor=vendor_staff, fmt="csv",
                              filters=selectors.EventFilter(action="staff."),
                              tenant=tenant_a)  # fmt: skip
    assert (written[0].chain, written[0].actor_id) == (chain_a, str(vendor_staff.pk))
    assert written[0].changes == {"format": "csv", "action": "staff."}


def test_only_vendor_staff_on_the_public_site_read_through_chain_events(
    vendor_staff, public_user, tenant_a, owner_a
):
    for user in (public_user, owner_a):
        with pytest.raises(PermissionDenied):
            selectors.chain_events(chain=tenant_a.schema_name, user=user)
        with pytest.raises(PermissionDenied):
            selectors.chain_events(chain="", user=user)
    connection.set_tenant(tenant_a)  # inside a workspace even vendor staff are refused
    with pytest.raises(PermissionDenied):
        selectors.chain_events(chain=tenant_a.schema_name, user=vendor_staff)
    with pytest.raises(PermissionDenied):
        selectors.vendor_event_detail(chain="", user=vendor_staff, event_id=1)
