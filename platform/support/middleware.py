"""The workspace side of a running support session, on every request.

A browser signed in by a support hand-off carries the session's id in its Django
session (``SESSION_KEY``). For each of its requests this middleware:

1. checks the session (``services.support_session_continue``): still running, within its
   limits, still consented, for the same user; else ends it with the cause, signs the
   browser out and shows why;
2. makes ``request.principal`` the ``SupportSession`` principal (the user, with the vendor
   as impersonator, read-only or read-write);
3. refuses unsafe methods in a read-only session, and any path that makes or changes a
   credential (``SUPPORT_BLOCKED_PATHS``) in every session (the services refuse too);
4. records the request in the workspace's chain;
5. turns "Sign out" into the end of the support session (cause ``vendor``).

After ``accounts.middleware.PrincipalMiddleware`` (whose principal it replaces).
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from core.error_pages import error_page
from core.errors import ReadOnlyError
from core.principal import SYSTEM
from core.workspace import current as current_workspace

from . import services
from .models import EndCause

# Where the workspace's Django session keeps the support session's id.
SESSION_KEY = "_support_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _verified() -> bool:
    return True


class SupportSessionMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None or current_workspace().is_public:
            return self.get_response(request)
        session_id = session.get(SESSION_KEY)
        if not session_id:
            return self.get_response(request)
        if request.path == reverse("support:handoff"):  # a new hand-off replaces this one
            return self.get_response(request)
        result = services.support_session_continue(
            actor=SYSTEM, session_id=session_id, user=request.user
        )
        if result.principal is None:
            session.flush()  # no signal: nothing of the user's own sessions changes
            request.user = AnonymousUser()
            return redirect(reverse("support:ended") + f"?cause={result.ended_cause}")
        principal = result.principal
        request.principal = principal
        request.support_session = result.session
        # The vendor passed the console's second factor; the workspace's 2FA policy
        # (accounts.middleware.TwoFactorPolicyMiddleware) must not send them to set one up.
        request.user.is_verified = _verified
        if request.path == reverse("accounts:logout") and request.method == "POST":
            # "Sign out" ends the support session: the user did not sign out (no
            # auth.logout in their name), and a read-only session can still leave.
            services.support_session_end(actor=principal, session_id=session_id)
            session.flush()
            return redirect(reverse("support:ended") + f"?cause={EndCause.VENDOR}")
        response = self._refusal(request, principal) or self.get_response(request)
        services.support_request_record(
            actor=principal,
            method=request.method or "",
            path=request.path,
            status=response.status_code,
        )
        return response

    @staticmethod
    def _refusal(request: HttpRequest, principal) -> HttpResponse | None:
        if request.path.startswith(tuple(p for p in settings.SUPPORT_BLOCKED_PATHS if p)):
            return error_page(
                request, 403, _("A support session cannot change credentials or export data.")
            )
        ending = request.path == reverse("support:end")
        if principal.read_only and request.method not in SAFE_METHODS and not ending:
            return error_page(request, 403, str(ReadOnlyError()))
        return None
