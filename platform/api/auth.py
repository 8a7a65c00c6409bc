"""Bearer tokens for DRF: one query per request (the token with its app, the app's
profile, its creator and the token's user, joined), no writes.

The token becomes the request's principal (``core.principal.AppPrincipal``):
- authorization code: the user the token was issued to acts, the app is the
  impersonator in the audit log;
- client credentials: the app acts alone, with its creator's permissions and its role
  capped at the one the creator gave it (never more than the creator's own).
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.models import AccessToken
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from core.principal import AppPrincipal

from .settings import ROLE_RANK

# The columns a request needs, not whole rows of four tables, in one statement written
# once per process: the lookup is the API's fixed cost on every request, and building
# the equivalent ORM query (four joined models) costs more than running it.
USER_FIELDS = ("id", "email", "full_name", "role", "is_active", "is_staff")


@dataclass(frozen=True)
class TokenRow:
    """What a request learns from its token (DRF's ``request.auth``)."""

    token_id: int
    expires: datetime
    scope: str
    app_id: int
    app_name: str
    app_role: str | None  # the AppProfile's role; None for an app without one
    creator: Any  # the app's creator (a User with only USER_FIELDS loaded), or None
    user: Any  # the token's user (likewise), or None for client credentials

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


@functools.cache
def _lookup_sql() -> str:
    from oauth2_provider.models import Application

    from .models import AppProfile

    User = get_user_model()
    users = ", ".join(f"{{alias}}.{connection.ops.quote_name(f)}" for f in USER_FIELDS)
    # Names from the models' metadata only; the checksum is a parameter.
    return (
        f"SELECT t.id, t.expires, t.scope, a.id, a.name, p.role, "  # noqa: S608
        f"{users.format(alias='c')}, {users.format(alias='u')} "
        f"FROM {AccessToken._meta.db_table} t "
        f"JOIN {Application._meta.db_table} a ON a.id = t.application_id "
        f"LEFT JOIN {AppProfile._meta.db_table} p ON p.application_id = a.id "
        f"LEFT JOIN {User._meta.db_table} c ON c.id = a.user_id "
        f"LEFT JOIN {User._meta.db_table} u ON u.id = t.user_id "
        f"WHERE t.token_checksum = %s"
    )


def _user(values) -> Any:
    if values[0] is None:
        return None
    return get_user_model().from_db("default", USER_FIELDS, values)


def find_token(raw: str) -> TokenRow | None:
    """The token ``raw`` with its app, profile, creator and user: one query."""
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [checksum(raw)])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(USER_FIELDS)
    return TokenRow(
        token_id=row[0], expires=row[1], scope=row[2], app_id=row[3], app_name=row[4],
        app_role=row[5], creator=_user(row[6 : 6 + n]), user=_user(row[6 + n : 6 + 2 * n]),
    )  # fmt: skip


def checksum(token: str) -> str:
    """How django-oauth-toolkit looks a token up (it stores a SHA-256 beside it)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def capped(user, role: str):
    """``user`` with its role lowered to ``role`` when that is lower (a copy: the row
    itself is never changed)."""
    if ROLE_RANK.get(role, 0) >= ROLE_RANK.get(user.role, 0):
        return user
    acting = copy.copy(user)
    acting.role = role
    return acting


def principal_of(token: TokenRow) -> AppPrincipal:
    scopes = frozenset(token.scope.split())
    if token.user is not None:
        user = token.user
        if not user.is_active or user.is_staff:
            raise exceptions.AuthenticationFailed(_("This token's user is deactivated."))
        return AppPrincipal(app_id=str(token.app_id), name=token.app_name, user=user, scopes=scopes)
    creator = token.creator
    if creator is None or not creator.is_active or creator.is_staff or token.app_role is None:
        raise exceptions.AuthenticationFailed(_("This app's creator is no longer active."))
    return AppPrincipal(
        app_id=str(token.app_id),
        name=token.app_name,
        scopes=scopes,
        role_of=capped(creator, token.app_role),
    )


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access token>`` issued by this workspace's ``/o/token/``."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _sep, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value or len(value) > 2048:
            raise exceptions.AuthenticationFailed(_("Use Authorization: Bearer <token>."))
        token = find_token(value)
        if token is None:
            raise exceptions.AuthenticationFailed(_("This token is not valid here."))
        if token.expires <= timezone.now():
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        principal = principal_of(token)
        request._request.principal = principal
        # DRF's request.user: the token's user; an app acting alone is no user.
        return (principal.user or AnonymousUser(), token)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
