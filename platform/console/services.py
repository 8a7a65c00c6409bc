"""The console's use cases: vendor staff, audited reads of the fleet, lifecycle actions.

Every function is keyword-only, takes the acting principal (``actor``), checks the
console role it needs with ``core.principal.require_vendor_role`` (the system passes:
commands and tasks), and records its audit event in the same transaction as its change.
Lifecycle actions need a reason and are recorded twice: the console's event in the
platform's chain, and the tenants service's event in the workspace's own chain.
"""

import secrets
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

import accounts.selectors as accounts_selectors
import accounts.services as accounts
import audit.services as audit
import billing.services as billing
import tenants.services as tenants
from core import outbox, queue
from core.errors import required_reason
from core.principal import (
    VENDOR_ROLES,
    Principal,
    require_vendor_role,
    vendor_role,
    write_service,
)
from core.workspace import current as current_workspace
from tenants.selectors import Node, Tenant, move_check, public_url

from . import usage
from .models import WorkspaceUsage

__all__ = [
    "INVITATION_MAX_AGE",
    "ROLE_FOR",
    "fleet_search_record",
    "invitation_check",
    "usage_refresh",
    "usage_refresh_all",
    "usage_refresh_stale",
    "vendor_staff_change_role",
    "vendor_staff_create",
    "vendor_staff_deactivate",
    "vendor_staff_invitation_accept",
    "vendor_staff_invite",
    "vendor_staff_reactivate",
    "workspace_freeze",
    "workspace_move",
    "workspace_move_request",
    "workspace_plan_comp",
    "workspace_reactivate",
    "workspace_suspend",
    "workspace_trial_extend",
    "workspace_unfreeze",
    "workspace_view_record",
]

# The role each console action needs (README: roles).
ROLE_FOR = {
    "read": "viewer",
    "suspend": "support",
    "reactivate": "support",
    "freeze": "support",
    "unfreeze": "support",
    "trial_extend": "billing",
    "plan_comp": "billing",
    "staff": "admin",
    "move": "admin",
}
VENDOR_FREEZE = "vendor_freeze"
INVITATION_MAX_AGE = 7 * 24 * 3600
_INVITATION_SALT = "console.vendor-invitation"


def _role(role: str) -> str:
    if role not in VENDOR_ROLES:
        raise ValidationError({"role": [_("Choose one of the console roles.")]})
    return role


def _actor_role(actor: Principal) -> str:
    return vendor_role(actor) or actor.audit_actor.type


def _on_public() -> None:
    if not current_workspace().is_public:
        raise PermissionDenied(_("The vendor console works on the public site only."))


# --- vendor staff ----------------------------------------------------------------------


def _staff(user_id: int):
    user = get_user_model().objects.filter(pk=user_id, is_staff=True).first()
    if user is None:
        raise ValidationError(_("No such vendor staff account."))
    return user


def _active_admins_locked(model) -> list[int]:
    """Ids of the active console admins, their rows locked: the last one stays."""
    return list(
        model.objects.select_for_update()
        .filter(is_staff=True, is_active=True, vendor_role="admin")
        .values_list("pk", flat=True)
    )


@write_service
def vendor_staff_create(
    *, actor: Principal, email: str, role: str, password: str, full_name: str = ""
):
    """A vendor staff account with a console ``role`` and a password (the first one is
    made by ``manage.py create_vendor_staff``, as the system). 2FA is enrolled at the
    account's first sign-in."""
    require_vendor_role(actor, ROLE_FOR["staff"])
    _on_public()
    role = _role(role)
    with transaction.atomic():
        user = accounts.vendor_staff_create(
            actor=actor, email=email, password=password, full_name=full_name
        )
        user.vendor_role = role
        user.save(update_fields=["vendor_role"])
        audit.record("console.staff_created", actor=actor, target=user, changes={"role": role})
    return user


def _invitation_token(user) -> str:
    # Bound to the (unusable) password: choosing a password kills the link.
    fingerprint = salted_hmac(_INVITATION_SALT, user.password).hexdigest()[:20]
    return signing.dumps({"u": user.pk, "p": fingerprint}, salt=_INVITATION_SALT)


def invitation_check(*, token: str):
    """The invited vendor account ``token`` names, or None (bad, expired or used)."""
    try:
        data = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.BadSignature:
        return None
    user = get_user_model().objects.filter(pk=data.get("u"), is_staff=True, is_active=True)
    user = user.first()
    if user is None or user.has_usable_password():
        return None
    fingerprint = salted_hmac(_INVITATION_SALT, user.password).hexdigest()[:20]
    return user if secrets.compare_digest(fingerprint, str(data.get("p", ""))) else None


@write_service
def vendor_staff_invite(*, actor: Principal, email: str, role: str, full_name: str = ""):
    """Invite a colleague to the console: an account without a password and an emailed
    link (single use, 7 days) where they choose one. Admin role. Inviting someone whose
    invitation is still open sends a new link (with the role given now)."""
    require_vendor_role(actor, ROLE_FOR["staff"])
    _on_public()
    role = _role(role)
    email = (email or "").strip().lower()
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(email=email).first()
        resent = user is not None
        if resent and (not user.is_staff or user.has_usable_password() or not user.is_active):
            raise ValidationError({"email": [_("This person already has a console account.")]})
        if not resent:
            # A throwaway strong password satisfies the validators; it is replaced at once.
            user = accounts.vendor_staff_create(
                actor=actor, email=email, password=secrets.token_urlsafe(32), full_name=full_name
            )
        # A fresh unusable password: any earlier link of this person stops working.
        user.set_unusable_password()
        user.vendor_role = role
        user.save(update_fields=["password", "vendor_role"])
        audit.record(
            "console.staff_invited",
            actor=actor,
            target=user,
            changes={"role": role, "resent": resent},
        )
        link = public_url(f"/console/invite/{_invitation_token(user)}/")
        outbox.send_after_commit(
            to=user.email,
            template="console/email/invitation",
            context={"link": link, "role": role, "inviter": actor.audit_actor.display},
        )
    return user


@write_service
def vendor_staff_invitation_accept(*, actor: Principal, token: str, password: str):
    """The invited colleague chooses their password (the link dies with it)."""
    _on_public()
    user = invitation_check(token=token)
    if user is None:
        raise ValidationError(_("This invitation link is not valid any more."))
    validate_password(password, user=user)
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=user.pk)
        if locked.password != user.password:
            raise ValidationError(_("This invitation link is not valid any more."))
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit.record("console.staff_invitation_accepted", actor=locked, target=locked, changes={})
    return locked


@write_service
def vendor_staff_change_role(*, actor: Principal, user_id: int, role: str, reason: str):
    """Give a vendor staff member another console role. Admin role; the last active
    admin keeps theirs."""
    require_vendor_role(actor, ROLE_FOR["staff"])
    _on_public()
    role, reason = _role(role), required_reason(reason)
    model = get_user_model()
    with transaction.atomic():
        admins = _active_admins_locked(model)
        user = model.objects.select_for_update().get(pk=_staff(user_id).pk)
        before = user.vendor_role
        if before == role:
            return user
        if before == "admin" and admins == [user.pk]:
            raise ValidationError(_("The console must keep at least one active admin."))
        user.vendor_role = role
        user.save(update_fields=["vendor_role"])
        audit.record(
            "console.staff_role_changed",
            actor=actor,
            target=user,
            changes={"role": {"before": before, "after": role}, "reason": reason},
        )
    return user


def _end_sessions(user) -> int:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    keys = list(accounts_selectors.sessions_of(user).values_list("session_key", flat=True))
    for key in keys:
        store.delete(key)
    return len(keys)


@write_service
def vendor_staff_deactivate(*, actor: Principal, user_id: int, reason: str):
    """Stop a vendor staff member signing in, and end their console sessions. Admin role;
    not oneself, not the last active admin."""
    require_vendor_role(actor, ROLE_FOR["staff"])
    _on_public()
    reason = required_reason(reason)
    model = get_user_model()
    with transaction.atomic():
        admins = _active_admins_locked(model)
        user = model.objects.select_for_update().get(pk=_staff(user_id).pk)
        if user.pk == getattr(actor, "pk", None):
            raise ValidationError(_("You cannot deactivate your own account."))
        if not user.is_active:
            return user
        if user.vendor_role == "admin" and admins == [user.pk]:
            raise ValidationError(_("The console must keep at least one active admin."))
        user.is_active = False
        user.deactivated_at = timezone.now()
        user.save(update_fields=["is_active", "deactivated_at"])
        ended = _end_sessions(user)
        audit.record(
            "console.staff_deactivated",
            actor=actor,
            target=user,
            changes={"reason": reason, "sessions_ended": ended},
        )
    return user


@write_service
def vendor_staff_reactivate(*, actor: Principal, user_id: int, reason: str):
    """Let a deactivated vendor staff member sign in again. Admin role."""
    require_vendor_role(actor, ROLE_FOR["staff"])
    _on_public()
    reason = required_reason(reason)
    model = get_user_model()
    with transaction.atomic():
        user = model.objects.select_for_update().get(pk=_staff(user_id).pk)
        if user.is_active:
            return user
        user.is_active = True
        user.deactivated_at = None
        user.save(update_fields=["is_active", "deactivated_at"])
        audit.record(
            "console.staff_reactivated", actor=actor, target=user, changes={"reason": reason}
        )
    return user


# --- audited reads ---------------------------------------------------------------------


def fleet_search_record(*, actor: Principal, query: str, filters: dict[str, str]) -> None:
    """Record a vendor's fleet search (platform chain): who looked for what."""
    require_vendor_role(actor, ROLE_FOR["read"])
    criteria = {k: v for k, v in filters.items() if v}
    with transaction.atomic():
        audit.record(
            "console.fleet_searched", actor=actor, changes={"query": query[:200], **criteria}
        )


def workspace_view_record(*, actor: Principal, tenant_id: int) -> None:
    """Record, in the workspace's own chain, that a vendor opened its console page (which
    shows its audit log): the workspace sees who of the vendor looked."""
    require_vendor_role(actor, ROLE_FOR["read"])
    tenant = Tenant.objects.get(pk=tenant_id)
    with transaction.atomic():
        audit.record(
            "console.workspace_viewed",
            actor=actor,
            target=tenant,
            tenant=tenant,
            changes={"role": _actor_role(actor)},
        )


# --- lifecycle -------------------------------------------------------------------------


def _workspace_event(action: str, *, actor: Principal, tenant, reason: str, **changes) -> None:
    """The console's event of a lifecycle action, in the platform's chain."""
    audit.record(
        action,
        actor=actor,
        target=tenant,
        changes={"reason": reason, "role": _actor_role(actor), **changes},
    )


@write_service
def workspace_suspend(*, actor: Principal, tenant_id: int, reason: str):
    """Suspend a workspace: nobody can use it until it is reactivated. Support role."""
    require_vendor_role(actor, ROLE_FOR["suspend"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        tenant = tenants.tenant_suspend(
            actor=actor, tenant=Tenant.objects.get(pk=tenant_id), reason=reason
        )
        _workspace_event("console.workspace_suspended", actor=actor, tenant=tenant, reason=reason)
    return tenant


@write_service
def workspace_reactivate(*, actor: Principal, tenant_id: int, reason: str):
    """Bring a suspended workspace back. Support role."""
    require_vendor_role(actor, ROLE_FOR["reactivate"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        tenant = Tenant.objects.get(pk=tenant_id)
        if tenant.state != Tenant.State.SUSPENDED:
            raise ValidationError(_("Only a suspended workspace can be reactivated here."))
        tenant = tenants.tenant_reactivate(actor=actor, tenant=tenant, reason=reason)
        _workspace_event("console.workspace_reactivated", actor=actor, tenant=tenant, reason=reason)
    return tenant


@write_service
def workspace_freeze(*, actor: Principal, tenant_id: int, reason: str):
    """Make a workspace read-only (a vendor freeze, separate from billing's reasons).
    Support role."""
    require_vendor_role(actor, ROLE_FOR["freeze"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        tenant = Tenant.objects.get(pk=tenant_id)
        if VENDOR_FREEZE in (tenant.read_only_reasons or []):
            raise ValidationError(_("This workspace is already frozen."))
        tenants.tenant_restrict(actor=actor, tenant_id=tenant.pk, reason=VENDOR_FREEZE, note=reason)
        _workspace_event("console.workspace_frozen", actor=actor, tenant=tenant, reason=reason)
    return Tenant.objects.get(pk=tenant_id)


@write_service
def workspace_unfreeze(*, actor: Principal, tenant_id: int, reason: str):
    """Lift a vendor freeze (billing's read-only reasons stay). Support role."""
    require_vendor_role(actor, ROLE_FOR["unfreeze"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        tenant = Tenant.objects.get(pk=tenant_id)
        if VENDOR_FREEZE not in (tenant.read_only_reasons or []):
            raise ValidationError(_("This workspace is not frozen."))
        tenants.tenant_unrestrict(
            actor=actor, tenant_id=tenant.pk, reason=VENDOR_FREEZE, note=reason
        )
        _workspace_event("console.workspace_unfrozen", actor=actor, tenant=tenant, reason=reason)
    return Tenant.objects.get(pk=tenant_id)


# --- moving a workspace between Citus nodes ---------------------------------------------

_MOVE_TASK = "console.tasks.move_workspace"


@write_service
def workspace_move_request(*, actor: Principal, tenant_id: int, to: str, reason: str) -> Node:
    """Queue moving a workspace's schema to another Citus worker (``to``: ``host:port``,
    or empty for the least loaded other one), online. Admin role. What can be checked
    now is checked now (a Citus coordinator, the workspace on a worker, the target a
    worker of the cluster and not the one it is on), then
    ``console.workspace_move_requested`` is recorded in the platform's chain and the move
    is queued after commit: it copies the schema while the workspace keeps working, which
    can outlast a request. The move records ``tenant.moved`` in the workspace's chain
    (``workspace_move``). Returns the target node."""
    require_vendor_role(actor, ROLE_FOR["move"])
    _on_public()
    reason = required_reason(reason)
    tenant = Tenant.objects.get(pk=tenant_id)
    target = Node.parse(to) if (to or "").strip() else None
    source, target = move_check(tenant, target)
    with transaction.atomic():
        _workspace_event(
            "console.workspace_move_requested", actor=actor, tenant=tenant, reason=reason,
            node_before=str(source), node_after=str(target),
        )  # fmt: skip
        transaction.on_commit(
            lambda: queue.task(_MOVE_TASK).delay(tenant_id=tenant.pk, to=str(target))
        )
    return target


@write_service
def workspace_move(*, actor: Principal, tenant_id: int, to: str):
    """Move a workspace's schema to worker ``to`` now (the queued half of
    ``workspace_move_request``; a command may call it too). A move that cannot happen
    any more (the cluster changed meanwhile) records ``console.workspace_move_failed``
    in the platform's chain with the reason, and the error goes up. Admin role."""
    require_vendor_role(actor, ROLE_FOR["move"])
    _on_public()
    tenant = Tenant.objects.get(pk=tenant_id)
    try:
        return tenants.tenant_move(actor=actor, tenant=tenant, to=Node.parse(to))
    except ValidationError as error:
        with transaction.atomic():
            _workspace_event(
                "console.workspace_move_failed", actor=actor, tenant=tenant,
                reason=" ".join(error.messages), node_after=to,
            )  # fmt: skip
        raise


# --- usage figures ---------------------------------------------------------------------


@write_service
def usage_refresh(*, actor: Principal, tenant_id: int) -> WorkspaceUsage:
    """Recompute one workspace's usage figures now (``console.usage``)."""
    require_vendor_role(actor, ROLE_FOR["read"])
    return usage.refresh(Tenant.objects.get(pk=tenant_id))


def _holding_data():
    return Tenant.objects.filter(state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED])


@write_service
def usage_refresh_stale(*, actor: Principal, limit: int = 200) -> int:
    """Recompute the workspaces marked stale, oldest mark first, at most ``limit``.
    Returns how many (the every-minute task)."""
    require_vendor_role(actor, ROLE_FOR["read"])
    ids = list(
        WorkspaceUsage.objects.filter(stale_since__isnull=False)
        .order_by("stale_since")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for tenant in _holding_data().filter(pk__in=ids):
        usage.refresh(tenant)
        done += 1
    # Workspaces without data (deleted) are not measured: their mark is dropped.
    WorkspaceUsage.objects.filter(pk__in=ids).exclude(
        tenant__state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED]
    ).update(stale_since=None)
    return done


@write_service
def usage_refresh_all(*, actor: Principal) -> int:
    """Recompute every workspace that holds data (the nightly safety net)."""
    require_vendor_role(actor, ROLE_FOR["read"])
    done = 0
    for tenant in _holding_data().order_by("pk").iterator():
        usage.refresh(tenant)
        done += 1
    return done


@write_service
def workspace_trial_extend(*, actor: Principal, tenant_id: int, until, reason: str):
    """Move the workspace's trial end to ``until`` (billing lifts ``trial_ended`` when it
    is in the future). Billing role; recorded here and, by billing, in the workspace's
    chain."""
    require_vendor_role(actor, ROLE_FOR["trial_extend"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        billing.trial_extend(actor=actor, tenant_id=tenant_id, until=until, reason=reason)
        tenant = Tenant.objects.get(pk=tenant_id)
        _workspace_event(
            "console.trial_extended", actor=actor, tenant=tenant, reason=reason,
            until=until.date().isoformat(),
        )  # fmt: skip
    return tenant


@write_service
def workspace_plan_comp(*, actor: Principal, tenant_id: int, plan_code: str, until, reason: str):
    """Put the workspace on ``plan_code`` free of charge until ``until``. Billing role;
    recorded here and, by billing, in the workspace's chain."""
    require_vendor_role(actor, ROLE_FOR["plan_comp"])
    _on_public()
    reason = required_reason(reason)
    with transaction.atomic():
        billing.plan_comp(
            actor=actor, tenant_id=tenant_id, plan_code=plan_code, until=until, reason=reason
        )
        tenant = Tenant.objects.get(pk=tenant_id)
        _workspace_event(
            "console.plan_comped", actor=actor, tenant=tenant, reason=reason,
            plan=plan_code, until=until.date().isoformat(),
        )  # fmt: skip
    return tenant
