"""Public-site pages: landing, signup, find my workspace, and the unknown-host page."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services import handoff_token_make
from core import ratelimit
from core.error_pages import error_page
from core.forms import apply_errors
from core.middleware import client_ip
from core.principal import ANONYMOUS

from .forms import FindWorkspaceForm, SignupForm
from .services import tenant_provision
from .tasks import email_workspace_links


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = tenant_provision(actor=ANONYMOUS, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            token = handoff_token_make(
                schema_name=workspace.tenant.schema_name, user_id=workspace.owner_id
            )
            return redirect(f"{workspace.url}accounts/welcome/{token}/")
    return render(request, "public/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def find_workspace(request: HttpRequest) -> HttpResponse:
    form = FindWorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # Per client first (a flood from one network gets the 429 page), then per address:
        # over that, the same page as always, but no email; the address learns nothing.
        client_limit, address_limit, window = settings.FIND_WORKSPACE_RATE_LIMIT
        client_key = f"signup:find:client:{client_ip(request) or ''}"
        if not ratelimit.hit(client_key, limit=client_limit, window=window):
            return error_page(request, 429)
        address_key = f"signup:find:address:{ratelimit.digest(email)}"
        if ratelimit.hit(address_key, limit=address_limit, window=window):
            # Looked up and mailed in the background: the answer and its timing are
            # the same whether or not the address has any workspace.
            email_workspace_links.delay(email, translation.get_language())
        return render(
            request,
            "public/find_workspace_sent.html",
            {"email": form.cleaned_data["email"]},
        )
    return render(request, "public/find_workspace.html", {"form": form})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "public/404.html", {"message": _("Page not found.")}, status=404)
