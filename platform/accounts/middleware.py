"""Per-request account behaviour for workspace users.

- ``UserPreferencesMiddleware``: the signed-in user's language and time zone.
- ``SessionTrackingMiddleware``: keeps the user's session row's "last seen" fresh.
- ``TwoFactorPolicyMiddleware``: when the workspace requires 2FA, a user whose session
  is not verified by a second factor can only reach the setup page (and sign out).
"""

import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.principal import ANONYMOUS
from core.workspace import current as current_workspace

from . import selectors
from .session_tracking import track_if_stale


def _tenant_user(request: HttpRequest):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or current_workspace().is_public:
        return None
    return user


class PrincipalMiddleware:
    """``request.principal``: who acts in this request, the ``actor`` every view passes to
    services (the signed-in user, else a visitor). After ``AuthenticationMiddleware``;
    a support session or an API authentication replaces it with their own principal."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        request.principal = user if user is not None and user.is_authenticated else ANONYMOUS
        return self.get_response(request)


class UserPreferencesMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        tz = None
        if user is not None and user.is_authenticated:
            if user.language and user.language in dict(settings.LANGUAGES):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            if user.time_zone:
                try:
                    tz = zoneinfo.ZoneInfo(user.time_zone)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    tz = None
        if tz is not None:
            timezone.activate(tz)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class SessionTrackingMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = _tenant_user(request)
        tracked = user is not None and response.status_code < 500 and request.session.session_key
        principal = getattr(request, "principal", user)
        # A support session or an app is not one of the user's own sessions.
        if tracked and principal.audit_impersonator is None:  # one write a minute at most
            track_if_stale(request, principal)
        return response


class TwoFactorPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = _tenant_user(request)
        if (
            user is not None
            and not user.is_verified()
            and not self._exempt(request.path)
            and selectors.workspace_policy().require_2fa
        ):
            messages.warning(
                request,
                _("Your workspace requires two-factor authentication. Please set it up first."),
            )
            return redirect("accounts:two_factor_setup")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        allowed = (
            reverse("accounts:two_factor_setup"),
            reverse("accounts:logout"),
            "/" + settings.STATIC_URL.lstrip("/"),
        )
        return path.startswith(allowed)
