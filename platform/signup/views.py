"""Public-site pages: landing, signup, find my workspace, and the unknown-host page."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services import handoff_token_make
from core.forms import apply_errors
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
        # Looked up and mailed in the background: the answer and its timing are
        # the same whether or not the address has any workspace.
        email_workspace_links.delay(form.cleaned_data["email"], translation.get_language())
        return render(
            request,
            "public/find_workspace_sent.html",
            {"email": form.cleaned_data["email"]},
        )
    return render(request, "public/find_workspace.html", {"form": form})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "public/404.html", {"message": _("Page not found.")}, status=404)
