"""Reads of the integration API: a workspace's apps with their grants and last use, and
the apps a user authorised."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Count, Max, Q
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken
from redis.exceptions import RedisError

from core.workspace import current as current_workspace

from .limits import last_use_key, redis_client

log = logging.getLogger(__name__)


@dataclass
class AppRow:
    app: Application
    grant_type: str
    role: str
    scopes: list[str]
    last_used: datetime | None
    grants: list[dict] = field(default_factory=list)  # {"user": ..., "last_used": ...}


def _last_uses() -> dict[str, datetime]:
    try:
        raw = redis_client().hgetall(last_use_key(current_workspace().schema_name))
    except RedisError as exc:
        log.warning("api last use unreadable (%s)", type(exc).__name__)
        return {}
    return {key.decode(): datetime.fromtimestamp(int(value), tz=UTC) for key, value in raw.items()}


def apps() -> list[AppRow]:
    """Every app of the workspace with its active grants (users with a live token or a
    refresh token) and last use."""
    used = _last_uses()
    now = timezone.now()
    rows = []
    for app in Application.objects.select_related("atrium", "user").order_by("name", "pk"):
        profile = getattr(app, "atrium", None)
        row = AppRow(
            app=app,
            grant_type=app.authorization_grant_type,
            role=profile.role if profile else "",
            scopes=profile.scope_list if profile else [],
            last_used=used.get(str(app.pk)),
        )
        users = (
            AccessToken.objects.filter(application=app, user__isnull=False, expires__gt=now)
            .values("user__id", "user__email")
            .union(
                RefreshToken.objects.filter(
                    application=app, user__isnull=False, revoked__isnull=True
                ).values("user__id", "user__email")
            )
        )
        for grant in users:
            row.grants.append(
                {
                    "email": grant["user__email"],
                    "last_used": used.get(f"{app.pk}:{grant['user__id']}"),
                }
            )
        row.grants.sort(key=lambda g: g["email"])
        rows.append(row)
    return rows


def app_of_workspace(app_id: int) -> Application | None:
    return Application.objects.filter(pk=app_id).first()


def authorized_apps(*, user) -> list[dict]:
    """The apps ``user`` authorised that can still act for them."""
    used = _last_uses()
    now = timezone.now()
    live = Q(accesstoken__user=user, accesstoken__expires__gt=now) | Q(
        refreshtoken__user=user, refreshtoken__revoked__isnull=True
    )
    found = (
        Application.objects.filter(live)
        .annotate(tokens=Count("accesstoken", distinct=True), since=Max("accesstoken__created"))
        .select_related("atrium")
        .order_by("name")
        .distinct()
    )
    return [
        {
            "app": app,
            "scopes": sorted(
                set(
                    " ".join(
                        AccessToken.objects.filter(application=app, user=user).values_list(
                            "scope", flat=True
                        )
                    ).split()
                )
            ),
            "since": app.since,
            "last_used": used.get(f"{app.pk}:{user.pk}"),
        }
        for app in found
    ]
