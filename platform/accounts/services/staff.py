"""Staff management: invitations, roles, deactivation, unlocking.

Each function checks the actor's permission, makes its change and records its
audit event in one transaction. Rows whose state a decision depends on are
locked first (``select_for_update``), so two admins acting at once cannot both
pass a check that only one of them should (the last owner, the last seat).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit.services as audit
from core.outbox import send_after_commit
from core.principal import Principal, write_service
from tenants.selectors import current_tenant, workspace_link

from .. import permissions, selectors, tokens
from ..models import Invitation, User
from .security import lock_workspace_policy, remove_second_factors
from .sessions import end_all_sessions

Role = User.Role


class InvitationError(Exception):
    """An invitation link that cannot be used; ``str()`` is the message for the visitor."""


@dataclass
class InviteResult:
    invited: list[Invitation] = field(default_factory=list)
    # email -> why it was not invited (already a member, already invited, invalid)
    skipped: dict[str, str] = field(default_factory=dict)


def _check_seats(extra: int) -> None:
    usage = selectors.seat_usage()
    if usage.used + extra > usage.limit:
        raise ValidationError(
            _(
                "Your plan (%(plan)s) allows %(limit)d active staff, counting pending "
                "invitations, and %(used)d are in use. To add %(extra)d more, an owner can "
                "upgrade the plan on the billing page or contact our support team; you can "
                "also revoke pending invitations or deactivate staff who left."
            )
            % {"plan": usage.plan_name, "limit": usage.limit, "used": usage.used, "extra": extra},
            code="seat_limit",
        )


def _send_invitation(invitation: Invitation, token: str, inviter: User) -> None:
    tenant = current_tenant()
    send_after_commit(
        to=invitation.email,
        template="accounts/email/invitation",
        context={
            "workspace": tenant.name,
            "inviter": inviter.full_name or inviter.email,
            "role": invitation.get_role_display(),
            "link": workspace_link(tenant.slug, "accounts:accept_invitation", token),
            "expires_at": invitation.expires_at,
        },
    )


def parse_emails(text: str) -> list[str]:
    """Addresses from a free-form list (commas, semicolons, spaces or lines), lowercased,
    in order, without duplicates."""
    seen: dict[str, None] = {}
    for part in text.replace(",", " ").replace(";", " ").split():
        seen.setdefault(part.strip().lower(), None)
    return list(seen)


@write_service
def staff_invite(*, actor: Principal, emails: list[str], role: str) -> InviteResult:
    """Invite each address with ``role``. Existing staff, open invitations and invalid
    addresses are skipped with a reason; if the rest does not fit in the plan's seats,
    nobody is invited."""
    permissions.require(permissions.can_grant(actor, role) and role in Role.values)
    result = InviteResult()
    candidates: list[str] = []
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            result.skipped[email] = _("This is not a valid email address.")
        else:
            candidates.append(email)
    if not candidates and not result.skipped:
        raise ValidationError(_("Enter at least one email address."), code="empty")
    with transaction.atomic():
        lock_workspace_policy()
        members = set(User.objects.filter(email__in=candidates).values_list("email", flat=True))
        pending = set(
            Invitation.objects.pending()
            .filter(email__in=candidates)
            .values_list("email", flat=True)
        )
        to_invite = []
        for email in candidates:
            if email in members:
                result.skipped[email] = _("Already a member of this workspace.")
            elif email in pending:
                result.skipped[email] = _("Already invited; resend the pending invitation instead.")
            else:
                to_invite.append(email)
        if not to_invite:
            return result
        _check_seats(len(to_invite))
        # Expired, unaccepted invitations still hold the one-open-per-address slot.
        Invitation.objects.filter(
            email__in=to_invite, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        expires_at = timezone.now() + timedelta(days=settings.ACCOUNTS_INVITATION_DAYS)
        for email in to_invite:
            token, token_hash = tokens.make_invitation_token()
            invitation = Invitation.objects.create(
                email=email,
                role=role,
                invited_by=permissions.acting_user(actor),
                token_hash=token_hash,
                expires_at=expires_at,
            )
            audit.record(
                "staff.invited",
                actor=actor,
                target=("accounts.invitation", invitation.pk, email),
                changes={"email": email, "role": role, "expires_at": expires_at.isoformat()},
            )
            _send_invitation(invitation, token, permissions.acting_user(actor))
            result.invited.append(invitation)
    return result


def _lock_open_invitation(pk: int) -> Invitation:
    """The invitation's row, locked; refused once it was accepted or revoked."""
    invitation = Invitation.objects.select_for_update().get(pk=pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(_("This invitation was already accepted or revoked."))
    return invitation


@write_service
def invitation_resend(*, actor: Principal, invitation: Invitation) -> Invitation:
    """Mail a new link (the old one stops working) and restart the expiry period."""
    permissions.require(permissions.can_grant(actor, invitation.role))
    with transaction.atomic():
        invitation = _lock_open_invitation(invitation.pk)
        token, invitation.token_hash = tokens.make_invitation_token()
        invitation.sent_at = timezone.now()
        invitation.expires_at = invitation.sent_at + timedelta(
            days=settings.ACCOUNTS_INVITATION_DAYS
        )
        invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
        audit.record(
            "staff.invitation_resent",
            actor=actor,
            target=("accounts.invitation", invitation.pk, invitation.email),
            changes={"expires_at": invitation.expires_at.isoformat()},
        )
        _send_invitation(invitation, token, permissions.acting_user(actor))
    return invitation


@write_service
def invitation_revoke(*, actor: Principal, invitation: Invitation) -> Invitation:
    permissions.require(permissions.can_grant(actor, invitation.role))
    with transaction.atomic():
        invitation = _lock_open_invitation(invitation.pk)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            "staff.invitation_revoked",
            actor=actor,
            target=("accounts.invitation", invitation.pk, invitation.email),
            changes={"email": invitation.email, "role": invitation.role},
        )
    return invitation


def _usable_invitation(token: str, *, lock: bool = False) -> Invitation:
    token_hash = tokens.invitation_hash_from_token(token)
    invitations = Invitation.objects.select_for_update() if lock else Invitation.objects
    invitation = invitations.filter(token_hash=token_hash).first() if token_hash else None
    if invitation is None:
        raise InvitationError(
            _("This invitation link is not valid. Ask a workspace admin to send a new one.")
        )
    if invitation.accepted_at:
        raise InvitationError(_("This invitation was already accepted. Please sign in."))
    if invitation.revoked_at:
        raise InvitationError(_("This invitation was withdrawn by a workspace admin."))
    if invitation.is_expired:
        raise InvitationError(
            _("This invitation has expired. Ask a workspace admin to send a new one.")
        )
    return invitation


def invitation_check(*, token: str) -> Invitation:
    """The pending invitation behind ``token``; ``InvitationError`` otherwise."""
    return _usable_invitation(token)


@write_service
def invitation_accept(*, actor: Principal, token: str, full_name: str, password: str) -> User:
    """Create the invitee's account from a pending invitation (single use). ``actor`` is
    the visitor holding the link; the event names the new account as its actor."""
    full_name = full_name.strip()
    if not full_name:
        raise ValidationError({"full_name": [_("Please enter your name.")]})
    with transaction.atomic():
        invitation = _usable_invitation(token, lock=True)
        if User.objects.filter(email=invitation.email).exists():
            raise InvitationError(_("An account with this address already exists. Please sign in."))
        user = User(email=invitation.email, full_name=full_name, role=invitation.role)
        try:
            validate_password(password, user=user)
        except ValidationError as error:
            raise ValidationError({"password1": error.messages}) from error
        user.set_password(password)
        user.save()
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        audit.record(
            "staff.invitation_accepted",
            actor=user,
            target=user,
            changes={"email": user.email, "role": user.role, "invitation": invitation.pk},
        )
    return user


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _lock_for_staff_change(actor: Principal, user: User) -> tuple[User, User]:
    """Serialise role and status changes of this workspace, then re-read both people:
    the actor may have been demoted or deactivated a moment ago by someone else.
    One workspace-wide lock (taken first, always) means no two changes can deadlock."""
    lock_workspace_policy()
    fresh_actor = User.objects.get(pk=permissions.acting_user(actor).pk)
    permissions.require(fresh_actor.is_active)
    return fresh_actor, _lock_user(user)


def _ensure_another_owner(target: User) -> None:
    """Refuse when ``target`` is the only active owner. Callers hold the workspace lock;
    the owner rows are locked too, in key order, for any path that does not."""
    owners = list(
        User.objects.select_for_update()
        .filter(role=Role.OWNER, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if target.pk in owners and len(owners) <= 1:
        raise ValidationError(
            _("A workspace needs at least one active owner. Make someone else owner first."),
            code="last_owner",
        )


@write_service
def staff_change_role(*, actor: Principal, user: User, role: str) -> User:
    permissions.require(role in Role.values)
    with transaction.atomic():
        me, target = _lock_for_staff_change(actor, user)
        permissions.require(permissions.can_act_on(me, target) and permissions.can_grant(me, role))
        if target.role == role:
            return target
        if target.role == Role.OWNER:
            _ensure_another_owner(target)
        before = target.role
        target.role = role
        target.save(update_fields=["role"])
        audit.record(
            "staff.role_changed", actor=actor, target=target, changes={"role": [before, role]}
        )
    return target


@write_service(read_only_workspace_ok=True)
def staff_deactivate(*, actor: Principal, user: User) -> User:
    """Stop ``user`` signing in and end all of their sessions at once."""
    with transaction.atomic():
        me, target = _lock_for_staff_change(actor, user)
        permissions.require(permissions.can_act_on(me, target))
        if target.pk == me.pk:
            raise ValidationError(_("You cannot deactivate your own account."))
        if not target.is_active:
            return target
        if target.role == Role.OWNER:
            _ensure_another_owner(target)
        target.is_active = False
        target.deactivated_at = timezone.now()
        target.save(update_fields=["is_active", "deactivated_at"])
        ended = end_all_sessions(target)
        audit.record(
            "staff.deactivated",
            actor=actor,
            target=target,
            changes={"is_active": [True, False], "sessions_ended": ended},
        )
    return target


@write_service
def staff_reactivate(*, actor: Principal, user: User) -> User:
    with transaction.atomic():
        me, target = _lock_for_staff_change(actor, user)
        permissions.require(permissions.can_act_on(me, target))
        if target.is_active:
            return target
        _check_seats(1)
        target.is_active = True
        target.deactivated_at = None
        target.save(update_fields=["is_active", "deactivated_at"])
        audit.record(
            "staff.reactivated", actor=actor, target=target, changes={"is_active": [False, True]}
        )
    return target


@write_service(read_only_workspace_ok=True)
def staff_unlock(*, actor: Principal, user: User) -> int:
    """Clear django-axes' failed sign-ins for ``user`` (from every ip)."""
    permissions.require(permissions.can_act_on(actor, user))
    with transaction.atomic():
        cleared = axes_reset(username=user.email)
        audit.record(
            "auth.unlocked", actor=actor, target=user, changes={"attempts_cleared": cleared}
        )
    return cleared


@write_service(read_only_workspace_ok=True)
def staff_reset_two_factor(*, actor: Principal, user: User) -> int:
    """Remove ``user``'s second factors (lost phone); they set 2FA up again."""
    with transaction.atomic():
        me, target = _lock_for_staff_change(actor, user)
        permissions.require(permissions.can_act_on(me, target) and target.pk != me.pk)
        removed = remove_second_factors(target)
        if removed:
            ended = end_all_sessions(target)
            audit.record(
                "user.2fa_disabled",
                actor=actor,
                target=target,
                changes={"by_admin": True, "sessions_ended": ended},
            )
    return removed
