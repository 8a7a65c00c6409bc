"""Support-session use cases: the public face of ``support`` for writes.

The protocol (``platform/support/README.md``): a workspace consents
(``support_policy_update``); a vendor with the ``support`` role starts a session in the
console (``support_session_start``: public-schema row, ``support.session_started`` in the
workspace's chain, owners emailed); the console hands off to the workspace host with a
signed, single-use, 60-second token (``support_handoff_issue`` / ``support_handoff_redeem``);
every request of the session is checked (``support_session_continue``: limits, consent)
and recorded (``support_request_record``); the session ends (``support_session_end``) by
the vendor, a workspace admin, a console revocation, consent withdrawal or a limit.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http.request import split_domain_port
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

import audit.services as audit
from accounts.selectors import is_workspace_admin, staff_list
from core import outbox
from core.principal import (
    ANONYMOUS,
    SYSTEM,
    Actor,
    Principal,
    is_vendor_staff,
    require_vendor_role,
    write_service,
)
from core.principal import SupportSession as SupportPrincipal
from core.workspace import current as current_workspace
from tenants.selectors import current_tenant, tenant_for_slug, workspace_host, workspace_link

from . import clock
from .models import EndCause, Mode, SupportPolicy, SupportSession

__all__ = [
    "Continued",
    "Handoff",
    "HandoffError",
    "SupportPrincipal",
    "support_handoff_issue",
    "support_handoff_redeem",
    "support_policy_update",
    "support_request_record",
    "support_session_continue",
    "support_session_end",
    "support_session_start",
    "support_sessions_expire",
]

HANDOFF_SALT = "atrium.support.handoff"
# The platform's own chain (``audit.record``'s ``tenant``): start and end land there too.
_PLATFORM_CHAIN = SimpleNamespace(schema_name="", pk=None)


class HandoffError(PermissionDenied):
    """A hand-off token was refused; ``str()`` says why, in the reader's language."""


def overall_limit() -> timedelta:
    return timedelta(seconds=settings.SUPPORT_SESSION_MAX_SECONDS)


def idle_limit() -> timedelta:
    return timedelta(seconds=settings.SUPPORT_SESSION_IDLE_SECONDS)


def _today() -> date:
    return clock.now().date()


def _policy(tenant_id: int) -> SupportPolicy:
    policy = SupportPolicy.objects.filter(tenant_id=tenant_id).first()
    return policy or SupportPolicy(tenant_id=tenant_id, mode=Mode.OFF)


def _not_impersonated(actor: Principal) -> None:
    if actor.audit_impersonator is not None:
        raise PermissionDenied(_("Only the workspace's own owners and admins can do this."))


def _vendor_actor(row: SupportSession) -> Actor:
    return Actor(type="vendor", id=str(row.vendor_id), display=row.vendor_email)


def _session_target(row: SupportSession) -> tuple[str, str, str]:
    return ("support.supportsession", str(row.pk), f"{row.vendor_email} → {row.user_email}")


def _end(row: SupportSession, *, actor: Principal, cause: str) -> SupportSession:
    """End ``row`` (locked by the caller, in its transaction) and audit it in both chains."""
    row.ended_at = clock.now()
    row.end_cause = cause
    row.ended_by = actor.audit_actor.display
    row.save(update_fields=["ended_at", "end_cause", "ended_by"])
    changes = {"cause": cause, "vendor": row.vendor_email, "user": row.user_email}
    target = _session_target(row)
    audit.record("support.session_ended", actor=actor, target=target, changes=changes,
                 tenant=row.tenant)  # fmt: skip
    audit.record("support.session_ended", actor=actor, target=target, changes=changes,
                 tenant=_PLATFORM_CHAIN)  # fmt: skip
    return row


def _limit_cause(row: SupportSession) -> str | None:
    """The limit ``row`` has run into, if any."""
    now = clock.now()
    if now >= row.expires_at:
        return EndCause.EXPIRED
    if now >= row.last_seen_at + idle_limit():
        return EndCause.IDLE
    return None


# --- consent (workspace side) -----------------------------------------------------------


# Withdrawing consent must work in a read-only workspace too (frozen, unpaid).
@write_service(read_only_workspace_ok=True)
def support_policy_update(
    *, actor: Principal, mode: str, until: date | None = None, notify_owners: bool = True
) -> SupportPolicy:
    """Set the current workspace's consent to support access (owners and admins, never
    someone in a support session). Running sessions it no longer covers end now."""
    if not is_workspace_admin(actor):
        raise PermissionDenied
    _not_impersonated(actor)
    if mode not in Mode.values:
        raise ValidationError(_("Choose off, read-only or read and write."))
    if until is not None and until < _today():
        raise ValidationError(_("The end date cannot be in the past."))
    tenant = current_tenant()
    with transaction.atomic():
        policy = SupportPolicy.objects.select_for_update().filter(tenant_id=tenant.pk).first()
        policy = policy or SupportPolicy(tenant_id=tenant.pk, mode=Mode.OFF)
        before = (policy.mode, policy.until, policy.notify_owners)
        policy.mode, policy.until, policy.notify_owners = mode, until, notify_owners
        policy.updated_by = actor.audit_actor.display
        policy.save()
        audit.record(
            "support.consent_changed",
            actor=actor,
            target=tenant,
            changes={
                "mode": {"before": before[0], "after": mode},
                "until": {"before": before[1], "after": until},
                "notify_owners": {"before": before[2], "after": notify_owners},
            },
        )
        running = SupportSession.objects.select_for_update().filter(
            tenant_id=tenant.pk, ended_at__isnull=True
        )
        for row in running:
            if not policy.allows(row.mode, _today()):
                _end(row, actor=actor, cause=EndCause.CONSENT_WITHDRAWN)
    return policy


# --- start (console side) ----------------------------------------------------------------


def _require_vendor(actor: Principal, role: str) -> None:
    """Vendor staff with at least ``role``: checked here, not only in the view."""
    if not is_vendor_staff(actor):
        raise PermissionDenied(_("Only vendor staff can do this."))
    require_vendor_role(actor, role)


@write_service
def support_session_start(
    *,
    actor: Principal,
    tenant_slug: str,
    user_id: int,
    reason: str,
    ticket: str,
    mode: str = Mode.READ_ONLY,
) -> SupportSession:
    """Start a support session as user ``user_id`` of workspace ``tenant_slug``.

    Needs the ``support`` vendor role (read-write: ``SUPPORT_READ_WRITE_ROLE``), a
    reason and a ticket reference, and the workspace's consent for ``mode``. Writes
    the public-schema row and ``support.session_started`` in the workspace's chain (and
    the platform's) in one transaction; the owners are emailed after commit unless the
    workspace turned that off."""
    _require_vendor(actor, "support")
    reason, ticket = (reason or "").strip(), (ticket or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("Give the reason for this support session.")
    if not ticket:
        errors["ticket"] = _("Give the ticket reference.")
    if mode not in (Mode.READ_ONLY, Mode.READ_WRITE):
        errors["mode"] = _("Choose read-only or read and write.")
    if errors:
        raise ValidationError(errors)
    if mode == Mode.READ_WRITE:
        require_vendor_role(actor, settings.SUPPORT_READ_WRITE_ROLE)
    tenant = tenant_for_slug((tenant_slug or "").strip().lower())
    if tenant is None or tenant.state != "active":
        raise ValidationError(_("There is no active workspace at this address."))
    policy = _policy(tenant.pk)
    if not policy.allows(mode, _today()):
        raise ValidationError(
            _("This workspace has not consented to read and write support access.")
            if mode == Mode.READ_WRITE and policy.allows(Mode.READ_ONLY, _today())
            else _("This workspace has not consented to support access.")
        )
    with schema_context(tenant.schema_name):
        user = staff_list(status="active").filter(pk=user_id).first()
        owners = list(staff_list(role="owner", status="active").values_list("email", "language"))
    if user is None:
        raise ValidationError(_("Choose an active user of this workspace."))
    now = clock.now()
    vendor = actor.audit_actor
    with transaction.atomic():
        row = SupportSession.objects.create(
            tenant=tenant,
            vendor_id=int(vendor.id),
            vendor_email=vendor.display,
            user_id=user.pk,
            user_email=user.email,
            reason=reason,
            ticket=ticket,
            mode=mode,
            started_at=now,
            expires_at=now + overall_limit(),
            last_seen_at=now,
        )
        changes = {"mode": mode, "user": user.email, "reason": reason, "ticket": ticket}
        target = _session_target(row)
        audit.record("support.session_started", actor=actor, target=target, changes=changes,
                     tenant=tenant)  # fmt: skip
        audit.record("support.session_started", actor=actor, target=target, changes=changes,
                     tenant=_PLATFORM_CHAIN)  # fmt: skip
        if policy.notify_owners:
            context = {
                "workspace": tenant.name,
                "vendor": vendor.display,
                "user": user.email,
                "reason": reason,
                "ticket": ticket,
                "read_write": mode == Mode.READ_WRITE,
                "started_at": now,
                "expires_at": row.expires_at,
                "link": workspace_link(tenant.slug, "support:settings"),
            }
            for email, language in owners:
                outbox.send_after_commit(
                    to=email, template="support/email/session_started", context=context,
                    language=language,
                )  # fmt: skip
    return row


# --- hand-off --------------------------------------------------------------------------


@dataclass(frozen=True)
class Handoff:
    """Where the console's auto-submitted form posts, and the token it carries."""

    url: str
    token: str


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


@write_service
def support_handoff_issue(*, actor: Principal, session_id: str) -> Handoff:
    """A signed token that opens the vendor's own running session on the workspace host:
    valid ``SUPPORT_HANDOFF_MAX_AGE`` seconds, once, on that host only. Issuing a new one
    kills the previous one. Consent is checked again here."""
    _require_vendor(actor, "support")
    with transaction.atomic():
        row = (
            SupportSession.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=session_id, vendor_id=int(actor.audit_actor.id))
            .first()
        )
        if row is None:
            raise PermissionDenied
        if not row.active:
            raise ValidationError(_("This support session has ended."))
        cause = _limit_cause(row)
        if cause is None and not _policy(row.tenant_id).allows(row.mode, _today()):
            cause = EndCause.CONSENT_WITHDRAWN
        if cause is not None:
            _end(row, actor=SYSTEM, cause=cause)
        else:
            nonce = secrets.token_urlsafe(32)
            row.handoff_nonce_hash = _nonce_hash(nonce)
            row.handoff_issued_at = clock.now()
            row.handoff_used_at = None
            row.save(update_fields=["handoff_nonce_hash", "handoff_issued_at", "handoff_used_at"])
    if cause is not None:
        raise ValidationError(_("This support session has ended: %(cause)s.")
                              % {"cause": EndCause(cause).label})  # fmt: skip
    host = workspace_host(row.tenant.slug)
    token = signing.dumps(
        {"sid": str(row.pk), "n": nonce, "s": row.tenant.schema_name, "h": host},
        salt=HANDOFF_SALT,
    )
    return Handoff(url=workspace_link(row.tenant.slug, "support:handoff"), token=token)


def support_handoff_redeem(
    *, actor: Principal, token: str, host: str
) -> tuple[SupportSession, Any]:
    """The session and workspace user that ``token`` opens on this workspace host.

    Refuses (``HandoffError``) a token that is forged or altered, older than
    ``SUPPORT_HANDOFF_MAX_AGE`` seconds, made for another workspace or host, already used
    or replaced, or whose session ended or lost its consent. Marks it used and records
    ``support.session_joined``. ``actor`` is the visitor posting it (``ANONYMOUS``)."""
    del actor  # a visitor: the token alone is the credential
    try:
        data = signing.loads(
            token or "", salt=HANDOFF_SALT, max_age=settings.SUPPORT_HANDOFF_MAX_AGE
        )
    except signing.SignatureExpired:
        raise HandoffError(
            _("This support link has expired. Open the workspace again from the console.")
        ) from None
    except signing.BadSignature:
        raise HandoffError(_("This support link is not valid.")) from None
    workspace = current_workspace()
    request_host, _port = split_domain_port(host)
    if (
        not isinstance(data, dict)
        or workspace.is_public
        or data.get("s") != workspace.schema_name
        or data.get("h") != request_host
    ):
        raise HandoffError(_("This support link is for another workspace."))
    with transaction.atomic():
        row = (
            SupportSession.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=data.get("sid"), tenant_id=workspace.tenant_id)
            .first()
        )
        if row is None or not row.active:
            raise HandoffError(_("This support session has ended."))
        used = row.handoff_used_at is not None or not row.handoff_nonce_hash
        if used or not secrets.compare_digest(
            row.handoff_nonce_hash, _nonce_hash(str(data.get("n")))
        ):
            raise HandoffError(_("This support link was already used."))
        cause = _limit_cause(row)
        if cause is None and not _policy(row.tenant_id).allows(row.mode, _today()):
            cause = EndCause.CONSENT_WITHDRAWN
        user = staff_list(status="active").filter(pk=row.user_id).first()
        if cause is None and user is None:
            cause = EndCause.USER_UNAVAILABLE
        if cause is not None:
            _end(row, actor=SYSTEM, cause=cause)
        else:
            row.handoff_used_at = row.last_seen_at = clock.now()
            row.save(update_fields=["handoff_used_at", "last_seen_at"])
            principal = SupportPrincipal(user=user, vendor=_vendor_actor(row), mode=row.mode,
                                         session_id=str(row.pk))  # fmt: skip
            audit.record("support.session_joined", actor=principal, target=_session_target(row))
    if cause is not None:
        raise HandoffError(_("This support session has ended: %(cause)s.")
                           % {"cause": EndCause(cause).label})  # fmt: skip
    return row, user


# --- during the session ------------------------------------------------------------------


@dataclass(frozen=True)
class Continued:
    """What ``support_session_continue`` found: the principal to act with, or why it ended."""

    principal: SupportPrincipal | None
    session: SupportSession | None
    ended_cause: str = ""


@write_service
def support_session_continue(*, actor: Principal, session_id: str, user: Any) -> Continued:
    """Check a request of support session ``session_id`` on the workspace host (the
    middleware calls this with ``SYSTEM`` on every request): still running, within its
    2 h and 30 min limits, still consented, for this very user. Ends it with the cause
    when not (and says so); else marks it seen and returns its principal."""
    workspace = current_workspace()
    with transaction.atomic():
        row = (
            SupportSession.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=session_id, tenant_id=workspace.tenant_id)
            .first()
        )
        if row is None:
            return Continued(None, None, EndCause.REVOKED)
        if not row.active:
            return Continued(None, row, row.end_cause)
        cause = _limit_cause(row)
        if cause is None and not _policy(row.tenant_id).allows(row.mode, _today()):
            cause = EndCause.CONSENT_WITHDRAWN
        if cause is None and (
            user is None
            or not user.is_authenticated
            or user.pk != row.user_id
            or not user.is_active
        ):
            cause = EndCause.USER_UNAVAILABLE
        if cause is not None:
            _end(row, actor=actor, cause=cause)
            return Continued(None, row, cause)
        row.last_seen_at = clock.now()
        row.save(update_fields=["last_seen_at"])
    principal = SupportPrincipal(user=user, vendor=_vendor_actor(row), mode=row.mode,
                                 session_id=str(row.pk))  # fmt: skip
    return Continued(principal, row)


def support_request_record(*, actor: Principal, method: str, path: str, status: int) -> None:
    """Record one request of a support session in the workspace's chain, the user as
    actor and the vendor as impersonator. A record of what happened, so a read-only
    session's reads are recorded too (not a write service)."""
    if actor.audit_impersonator is None or getattr(actor, "session_id", "") == "":
        raise PermissionDenied
    with transaction.atomic():
        audit.record(
            "support.request_served",
            actor=actor,
            target=("support.supportsession", actor.session_id, actor.audit_impersonator.display),
            changes={"method": method[:10], "path": path[:500], "status": status},
        )


# --- end ---------------------------------------------------------------------------------


def support_session_end(
    *, actor: Principal, session_id: str, cause: str | None = None
) -> SupportSession:
    """End a running support session, audited with its cause.

    Who may, and the cause recorded: the session itself (its banner's "end now") or its
    vendor in the console: ``vendor``; a vendor admin in the console: ``revoked``; an
    owner or admin of its workspace (not in a support session): ``workspace_admin``;
    the system: the ``cause`` it gives (a limit, consent). Not a write service: a
    read-only session must be able to end itself."""
    workspace = current_workspace()
    with transaction.atomic():
        row = (
            SupportSession.objects.select_for_update()
            .select_related("tenant")
            .filter(pk=session_id)
            .first()
        )
        if row is None:
            raise PermissionDenied
        if isinstance(actor, SupportPrincipal):
            allowed, why = actor.session_id == str(row.pk), EndCause.VENDOR
        elif is_vendor_staff(actor):
            if actor.audit_actor.id == str(row.vendor_id):
                _require_vendor(actor, "support")
                allowed, why = True, EndCause.VENDOR
            else:
                _require_vendor(actor, "admin")
                allowed, why = True, EndCause.REVOKED
        elif actor is SYSTEM:
            allowed, why = cause in EndCause.values, cause
        elif actor is ANONYMOUS:
            allowed, why = False, ""
        else:
            allowed = (
                not workspace.is_public
                and workspace.tenant_id == row.tenant_id
                and is_workspace_admin(actor)
                and actor.audit_impersonator is None
            )
            why = EndCause.WORKSPACE_ADMIN
        if not allowed:
            raise PermissionDenied
        if not row.active:
            return row
        return _end(row, actor=actor, cause=why)


@write_service
def support_sessions_expire(*, actor: Principal) -> int:
    """End every running session past its 2 h or 30 min limit, or whose consent lapsed,
    though nobody made a request since (a closed tab): the beat task's sweep, so the
    workspace's list never shows a dead session as running. The number ended."""
    now = clock.now()
    candidates = SupportSession.objects.filter(ended_at__isnull=True).values_list("pk", flat=True)
    ended = 0
    for pk in list(candidates):
        with transaction.atomic():
            row = (
                SupportSession.objects.select_for_update(skip_locked=True)
                .select_related("tenant")
                .filter(pk=pk, ended_at__isnull=True)
                .first()
            )
            if row is None:
                continue
            cause = _limit_cause(row)
            if cause is None and not _policy(row.tenant_id).allows(row.mode, now.date()):
                cause = EndCause.CONSENT_WITHDRAWN
            if cause is not None:
                _end(row, actor=actor, cause=cause)
                ended += 1
    return ended
