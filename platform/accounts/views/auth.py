"""Signing in and out of a workspace: password, then the second factor when the user has
one; the post-signup hand-off; invitation acceptance; password reset; lockout page."""

import time

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login

from core.forms import apply_errors

from .. import ratelimit, selectors, services
from ..forms import AcceptInvitationForm, SecondFactorForm, SignInForm
from ..models import User

PENDING_KEY = "_accounts_pending_2fa"
# The second factor must follow the password within this many seconds.
PENDING_MAX_AGE = 300


class SignInView(auth_views.LoginView):
    """Password first. Users with 2FA are not signed in yet: they go on to the code step."""

    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: SignInForm) -> HttpResponse:
        user = form.get_user()
        if selectors.has_two_factor(user):
            self.request.session[PENDING_KEY] = {
                "u": user.pk,
                "b": user.backend,
                "at": time.time(),
                "next": self.get_success_url(),
            }
            return redirect("accounts:login_verify")
        return super().form_valid(form)


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in: an authenticator code or a recovery code."""
    pending = request.session.get(PENDING_KEY)
    user = None
    if pending and time.time() - pending.get("at", 0) <= PENDING_MAX_AGE:
        user = User.objects.filter(pk=pending.get("u"), is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("Your sign-in timed out. Please enter your password again."))
        return redirect("accounts:login")
    credentials = {"username": user.email}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(PENDING_KEY, None)
        return lockout(request, None, credentials)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.second_factor_verify(actor=user, token=form.cleaned_data["code"])
        if device is not None:
            request.session.pop(PENDING_KEY, None)
            login(request, user, backend=pending["b"])
            otp_login(request, device)
            return redirect(pending["next"])
        # A wrong code is a failed sign-in: django-axes counts it towards the lockout.
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING_KEY, None)
            return lockout(request, None, credentials)
        form.add_error(
            "code",
            _(
                "That code is not valid. Use the current code from your app "
                "or an unused recovery code."
            ),
        )
    return render(request, "accounts/login_verify.html", {"form": form})


def lockout(request: HttpRequest, response=None, credentials: dict | None = None) -> HttpResponse:
    """django-axes' lockout response: the same words whether or not the account exists."""
    minutes = round(float(settings.AXES_COOLOFF_TIME or 0) * 60)
    return render(request, "accounts/lockout.html", {"minutes": minutes}, status=429)


@require_GET
def handoff(request: HttpRequest, token: str) -> HttpResponse:
    user = services.handoff_token_redeem(token=token)
    if user is None:
        messages.error(request, _("That sign-in link has expired or was already used."))
        return redirect("accounts:login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Welcome to your new workspace."))
    return redirect("dashboard")


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/error.html",
        {
            "title": _("Too many attempts"),
            "message": _("Too many attempts from your network. Please wait a while and try again."),
        },
        status=429,
    )


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee sets their name and password, and lands signed in."""
    if not ratelimit.hit("invitation", request):
        return _too_many(request)
    try:
        invitation = services.invitation_check(token=token)
    except services.InvitationError as error:
        return render(
            request,
            "accounts/error.html",
            {"title": _("Invitation not valid"), "message": str(error)},
            status=400,
        )
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                actor=request.principal,
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except services.InvitationError as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if request.user.is_authenticated:
                # Someone else was signed in on this browser: not any more.
                request.session.flush()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("dashboard")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Rate-limited per ip; the answer is the same whether or not the address has an account."""

    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not ratelimit.hit("password_reset", request):
            return _too_many(request)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        services.password_reset_request(
            actor=self.request.principal, email=form.cleaned_data["email"]
        )
        return redirect(self.success_url)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form) -> HttpResponse:
        services.password_reset_complete(
            actor=form.user, new_password=form.cleaned_data["new_password1"]
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return redirect(self.success_url)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "accounts/error.html",
        {
            "title": _("This form has expired"),
            "message": _(
                "Your browser sent the form without its security token (or with an old one), "
                "so nothing was changed. Go back, reload the page and try again."
            ),
        },
        status=403,
    )
