"""Read functions for accounts: staff lists, seats, sessions, lockouts, policy; and who
may do what (``accounts.permissions``' predicates, re-exported here as the face other
packages use)."""

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from billing.selectors import plan_for
from tenants.schemas import check_schema_name
from tenants.selectors import current_tenant

from .models import Invitation, User, UserSession, WorkspacePolicy
from .permissions import (  # noqa: F401 - the public face of the permission predicates
    STAFF_MANAGERS,
    acting_user,
    can_write,
    is_workspace_admin,
)

POLICY_CACHE_KEY = "accounts:workspace-policy"


@dataclass(frozen=True)
class SeatUsage:
    active: int
    pending: int
    limit: int
    plan_name: str

    @property
    def used(self) -> int:
        return self.active + self.pending

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


def seat_usage(*, plan=None) -> SeatUsage:
    """Seats in use (active staff + pending invitations) against the plan's limit
    (``plan``: the workspace's, when the caller has read it already)."""
    plan = plan or plan_for(current_tenant())
    return SeatUsage(
        active=User.objects.filter(is_active=True, is_staff=False).count(),
        pending=Invitation.objects.pending().count(),
        limit=plan.max_staff,
        plan_name=plan.name,
    )


def staff_list(*, query: str = "", role: str = "", status: str = "") -> QuerySet[User]:
    """Workspace staff filtered by name/email search, role and status (active, deactivated,
    locked)."""
    users = User.objects.filter(is_staff=False)
    if query:
        users = users.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    if role in User.Role.values:
        users = users.filter(role=role)
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "deactivated":
        users = users.filter(is_active=False)
    elif status == "locked":
        users = users.filter(email__in=_lockouts().values("username"))
    return users.order_by("full_name", "email")


def pending_invitations() -> QuerySet[Invitation]:
    return Invitation.objects.pending().select_related("invited_by").order_by("email")


def _lockouts() -> QuerySet[AccessAttempt]:
    """django-axes' attempt rows that currently lock a username out (from some ip)."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if settings.AXES_COOLOFF_TIME:
        since = timezone.now() - timedelta(hours=float(settings.AXES_COOLOFF_TIME))
        attempts = attempts.filter(attempt_time__gte=since)
    return attempts


def locked_usernames() -> set[str]:
    """Usernames that django-axes currently locks out (from at least one ip)."""
    return set(_lockouts().values_list("username", flat=True))


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA zones a user may choose (read from disk once: about 600 files)."""
    return frozenset(zoneinfo.available_timezones())


def is_locked_out(user: User) -> bool:
    return _lockouts().filter(username=user.email).exists()


def sessions_of(user: User) -> QuerySet[UserSession]:
    """The user's live sessions (ended or expired ones are left out), newest first."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return UserSession.objects.filter(user=user, session_key__in=live).order_by("-last_seen")


def has_two_factor(user: User) -> bool:
    return user_has_device(user, confirmed=True)


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def workspace_policy() -> WorkspacePolicy:
    """The workspace's policy, from the cache when it is there (no query per request)."""
    policy = cache.get(POLICY_CACHE_KEY)
    if policy is None:
        policy = WorkspacePolicy.objects.filter(pk=1).first() or WorkspacePolicy(pk=1)
        cache.set(POLICY_CACHE_KEY, policy, timeout=300)
    return policy


def schemas_with_active_account(email: str, schema_names: list[str]) -> set[str]:
    """Which of ``schema_names`` (workspaces) have an active account for ``email``.

    One UNION ALL query per batch of schemas rather than one query per workspace
    ("find my workspace" on the public site, where no schema is selected).
    """
    email = email.strip().lower()
    quote = connection.ops.quote_name
    table = quote(User._meta.db_table)
    # Schema names come from Tenant rows; checked before they are quoted into SQL.
    schema_names = [check_schema_name(name) for name in schema_names]
    found: set[str] = set()
    names = sorted(schema_names)
    batch = 200
    for start in range(0, len(names), batch):
        part = names[start : start + batch]
        sql = " UNION ALL ".join(
            f"SELECT %s FROM {quote(name)}.{table} "  # noqa: S608 - quoted identifiers
            "WHERE email = %s AND is_active"
            for name in part
        )
        params: list[str] = []
        for name in part:
            params += [name, email]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found.update(row[0] for row in cursor.fetchall())
    return found


@dataclass(frozen=True)
class SecurityPosture:
    """What the dashboard says about sign-in security: is 2FA required, and who has none."""

    require_2fa: bool
    without_second_factor: int
    examples: list[User]  # a few of them, by name


def security_posture(*, examples: int = 5) -> SecurityPosture:
    """The workspace's 2FA policy and the active staff without a confirmed authenticator
    (two queries, whatever the staff count)."""
    has_totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    without = (
        User.objects.filter(is_active=True, is_staff=False)
        .exclude(Exists(has_totp))
        .order_by("full_name", "email")
    )
    return SecurityPosture(
        require_2fa=workspace_policy().require_2fa,
        without_second_factor=without.count(),
        examples=list(without[:examples]),
    )


def owner_recipients() -> list[tuple[str, str]]:
    """``(email, language)`` of every active owner of the current workspace: who is told
    about billing (a failed payment)."""
    people = User.objects.filter(is_active=True, is_staff=False)
    owners = people.filter(role=User.Role.OWNER).order_by("pk")
    return list(owners.values_list("email", "language"))


def admin_recipients() -> list[tuple[str, str]]:
    """``(email, language)`` of every active owner and admin of the current workspace:
    who is told about workspace events (a blocked upload)."""
    people = User.objects.filter(is_active=True, is_staff=False)
    admins = people.filter(role__in=STAFF_MANAGERS).order_by("pk")
    return list(admins.values_list("email", "language"))


def role_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every workspace role, from owner down to read-only."""
    return list(User.Role.choices)


def people_rows(fields: tuple[str, ...]) -> QuerySet:
    """The current workspace's own people (never vendor staff), oldest first, as dicts of
    ``fields``: what a workspace export carries."""
    return User.objects.filter(is_staff=False).order_by("pk").values(*fields)


def invitation_rows(fields: tuple[str, ...]) -> QuerySet:
    """Every invitation of the current workspace (pending or not), oldest first, as dicts
    of ``fields``."""
    return Invitation.objects.order_by("pk").values(*fields)
