"""The webhook's short path through the middleware chain.

Stripe's deliveries need none of what the rest of the chain does for people: no
session, user, second factor, language, CSRF token, messages, support session or
lockout. ``WebhookMiddleware`` sits right after routing, security and static files:
a ``POST`` to the webhook's path on the public host (routing has chosen the public
URLConf) goes straight to the view; everything else, and the webhook on any other host
or method (404 / the branded 405), takes the normal chain.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, resolve

WEBHOOK_PATH = "/billing/webhook/"


class WebhookMiddleware:
    """Place after ``TenantRoutingMiddleware``, ``SecurityMiddleware`` and WhiteNoise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._match: ResolverMatch | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method == "POST"
            and request.path_info == WEBHOOK_PATH
            and getattr(request, "urlconf", None) == settings.PUBLIC_SCHEMA_URLCONF
        ):
            if self._match is None:
                # Resolved once: the logs and metrics name the view as usual.
                self._match = resolve(WEBHOOK_PATH, settings.PUBLIC_SCHEMA_URLCONF)
            request.resolver_match = self._match
            return self._match.func(request)
        return self.get_response(request)
