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
import hashlib

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.models import AccessToken
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from core.principal import AppPrincipal

ROLE_RANK = {"readonly": 0, "member": 1, "admin": 2, "owner": 3}

# The columns a request needs, not whole rows of four tables: the one query stays cheap
# to build and read (a service reading another field of a user loads it then).
_USER_FIELDS = ("id", "email", "full_name", "role", "is_active", "is_staff")
LOADED = (
    "id", "expires", "scope", "user", "application",
    "application__id", "application__name", "application__user",
    "application__atrium__id", "application__atrium__role",
    "application__atrium__application",
    *(f"application__user__{name}" for name in _USER_FIELDS),
    *(f"user__{name}" for name in _USER_FIELDS),
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


def principal_of(token: AccessToken) -> AppPrincipal:
    app = token.application
    scopes = frozenset(token.scope.split())
    profile = getattr(app, "atrium", None)
    if token.user_id is not None:
        user = token.user
        if not user.is_active or user.is_staff:
            raise exceptions.AuthenticationFailed(_("This token's user is deactivated."))
        return AppPrincipal(app_id=str(app.pk), name=app.name, user=user, scopes=scopes)
    creator = app.user
    if creator is None or not creator.is_active or profile is None:
        raise exceptions.AuthenticationFailed(_("This app's creator is no longer active."))
    return AppPrincipal(
        app_id=str(app.pk),
        name=app.name,
        scopes=scopes,
        role_of=capped(creator, profile.role),
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
        token = (
            AccessToken.objects.select_related(
                "application", "application__atrium", "application__user", "user"
            )
            .only(*LOADED)
            .filter(token_checksum=checksum(value))
            .first()
        )
        if token is None or token.application is None:
            raise exceptions.AuthenticationFailed(_("This token is not valid here."))
        if token.expires <= timezone.now():
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        principal = principal_of(token)
        request._request.principal = principal
        # DRF's request.user: the token's user; an app acting alone is no user.
        return (principal.user or AnonymousUser(), token)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
