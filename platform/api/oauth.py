"""django-oauth-toolkit, fitted to a workspace: the validator (scopes bounded by the
app's, client credentials only while the creator is active), the consent page (audited)
and the token endpoint (rate-limited per client address: client secrets are hashed
slowly on purpose)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import AuthorizationView, RevokeTokenView, TokenView

from core.middleware import client_ip
from core.ratelimit import hit as ratelimit_hit

from . import services
from .settings import SCOPES


def _app_scopes(client) -> set[str]:
    profile = getattr(client, "atrium", None)
    return set(profile.scope_list) if profile is not None else set()


class Validator(OAuth2Validator):
    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        return bool(scopes) and set(scopes) <= (set(SCOPES) & _app_scopes(client))

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        client = getattr(request, "client", None)
        allowed = _app_scopes(client) if client is not None else set()
        return [scope for scope in SCOPES if scope in allowed]

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if not super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs):
            return False
        if grant_type == "client_credentials":
            creator = client.user
            return creator is not None and creator.is_active and not creator.is_staff
        return True


class ConsentView(AuthorizationView):
    """The consent page: the app's name and the scopes it asks for, in the user's
    language; allowing it is recorded in the audit log with the grant."""

    template_name = "api/authorize.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["scope_texts"] = [
            (scope, SCOPES.get(scope, scope)) for scope in context.get("scopes", [])
        ]
        return context

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            location = response.get("Location", "") if hasattr(response, "get") else ""
            if form.cleaned_data.get("allow") and "code=" in location:
                services.app_authorize(
                    actor=self.request.principal,
                    client_id=form.cleaned_data["client_id"],
                    scopes=form.cleaned_data.get("scope", "").split(),
                )
        return response


def _too_many(request):
    from django.http import JsonResponse

    response = JsonResponse(
        {
            "error": "slow_down",
            "error_description": _("Too many token requests; cache your tokens and retry later."),
        },
        status=429,
    )
    response["Retry-After"] = "60"
    return response


class LimitedTokenView(TokenView):
    """``/o/token/``: at most ``API_TOKEN_RATE`` requests a minute per client address."""

    def post(self, request, *args, **kwargs):
        if not ratelimit_hit(
            f"api-token:{client_ip(request)}", limit=settings.API_TOKEN_RATE, window=60
        ):
            return _too_many(request)
        return super().post(request, *args, **kwargs)


class LimitedRevokeTokenView(RevokeTokenView):
    def post(self, request, *args, **kwargs):
        if not ratelimit_hit(
            f"api-token:{client_ip(request)}", limit=settings.API_TOKEN_RATE, window=60
        ):
            return _too_many(request)
        return super().post(request, *args, **kwargs)
