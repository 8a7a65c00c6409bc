"""Workspace pages: dashboard and the post-signup hand-off. Sign-in, sign-out and
password reset are Django's own views, wired in ``accounts.urls``."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .services import redeem_handoff_token


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/dashboard.html", {"workspace": request.tenant})


@require_GET
def handoff(request: HttpRequest, token: str) -> HttpResponse:
    user = redeem_handoff_token(token)
    if user is None:
        messages.error(request, _("That sign-in link has expired or was already used."))
        return redirect("accounts:login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Welcome to your new workspace."))
    return redirect("accounts:dashboard")
