"""The integration pages: admins manage the workspace's OAuth2 apps at
``/settings/integrations/``; every user sees and withdraws the apps they authorised at
``/account/apps/``. Views parse requests and call ``api.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.models import Application

from accounts.selectors import is_workspace_admin
from core.decorators import role_required
from core.forms import apply_errors

from . import selectors, services
from .forms import AppForm

admin_required = role_required(is_workspace_admin)


def _secret_page(request: HttpRequest, new: services.NewSecret, *, created: bool) -> HttpResponse:
    """The client secret, shown this once (no-store: not kept by the browser either)."""
    response = render(
        request,
        "api/secret.html",
        {
            "app": new.application,
            "client_secret": new.client_secret,
            "created": created,
            "token_url": request.build_absolute_uri("/o/token/"),
            "api_url": request.build_absolute_uri("/api/v1/"),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@admin_required
def integrations(request: HttpRequest) -> HttpResponse:
    form = AppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new = services.app_create(
                actor=request.principal,
                name=data["name"],
                grant_type=data["grant_type"],
                scopes=data["scopes"],
                redirect_uris=data["redirect_uris"],
                role=data["role"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied as exc:  # a role above the admin's own
            form.add_error("role", str(exc))
        else:
            return _secret_page(request, new, created=True)
    return render(
        request,
        "api/integrations.html",
        {
            "form": form,
            "apps": selectors.apps(),
        },
    )


def _app_or_404(app_id: int) -> Application:
    app = selectors.app_of_workspace(app_id)
    if app is None:
        raise Http404
    return app


@login_required
@admin_required
@require_POST
def app_rotate(request: HttpRequest, app_id: int) -> HttpResponse:
    _app_or_404(app_id)
    new = services.app_secret_rotate(actor=request.principal, app_id=app_id)
    return _secret_page(request, new, created=False)


@login_required
@admin_required
@require_POST
def app_revoke(request: HttpRequest, app_id: int) -> HttpResponse:
    app = _app_or_404(app_id)
    services.app_revoke(actor=request.principal, app_id=app_id)
    messages.success(
        request, _("Revoked “%(name)s”: its tokens no longer work.") % {"name": app.name}
    )
    return redirect("api_pages:integrations")


@login_required
@require_GET
def my_apps(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "api/my_apps.html",
        {"apps": selectors.authorized_apps(user=request.principal.acting_user)},
    )


@login_required
@require_POST
def my_app_revoke(request: HttpRequest, app_id: int) -> HttpResponse:
    try:
        services.authorization_revoke(actor=request.principal, app_id=app_id)
    except Application.DoesNotExist as exc:
        raise Http404 from exc
    messages.success(request, _("The app can no longer act for you."))
    return redirect("api_pages:my_apps")
