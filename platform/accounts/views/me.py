"""The signed-in user's own account: profile, password, email, 2FA and sessions."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from core import qr
from core.forms import apply_errors, error_messages

from .. import selectors, services
from ..forms import (
    EmailChangeForm,
    PasswordChangeForm,
    PasswordConfirmForm,
    ProfileForm,
    ReauthenticateForm,
    TotpConfirmForm,
)
from ..models import UserSession
from ..session_tracking import track_session

NEW_CODES_KEY = "_accounts_new_recovery_codes"


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={
            "full_name": user.full_name,
            "language": user.language,
            "time_zone": user.time_zone,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.profile_update(actor=request.principal, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            # The language may have just changed: say it in the one the next page uses.
            if updated.language in dict(settings.LANGUAGES):
                translation.activate(updated.language)
            else:
                translation.activate(translation.get_language_from_request(request))
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                actor=request.principal,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
                current_session_key=request.session.session_key,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            previous_key = request.session.session_key
            # The password hash changed: keep this session valid (it gets a new key).
            update_session_auth_hash(request, request.user)
            track_session(request, request.user, previous_key=previous_key)
            messages.success(
                request, _("Your password was changed. Other sessions were signed out.")
            )
            return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.email_change_request(actor=request.principal, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "We sent a confirmation link to %(email)s. "
                    "Your address changes when you open it."
                )
                % {"email": form.cleaned_data["new_email"]},
            )
            return redirect("accounts:profile")
    return render(request, "accounts/email_change.html", {"form": form})


@require_http_methods(["GET", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    # GET only shows a button: mail scanners that open links must not make the change.
    if request.method == "POST":
        try:
            user = services.email_change_confirm(actor=request.principal, token=token)
        except ValidationError as error:
            return render(
                request,
                "accounts/error.html",
                {"title": _("Link not valid"), "message": " ".join(error.messages)},
                status=400,
            )
        messages.success(request, _("Your email address is now %(email)s.") % {"email": user.email})
        return redirect("accounts:profile" if request.user.is_authenticated else "accounts:login")
    return render(request, "accounts/email_change_confirm.html")


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    return _two_factor_page(request)


def _two_factor_page(
    request: HttpRequest, regenerate_form: ReauthenticateForm | None = None
) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/two_factor.html",
        {
            "enabled": selectors.has_two_factor(user),
            "codes_left": selectors.recovery_codes_left(user),
            "new_codes": request.session.pop(NEW_CODES_KEY, None),
            "required": selectors.workspace_policy().require_2fa,
            "disable_form": PasswordConfirmForm(),
            "regenerate_form": regenerate_form or ReauthenticateForm(prefix="regenerate"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if selectors.has_two_factor(user):
        messages.info(request, _("Two-factor authentication is already on."))
        return redirect("accounts:two_factor")
    device = services.totp_device_setup(actor=request.principal)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_enable(
            actor=request.principal,
            token=form.cleaned_data["code"],
            current_session_key=request.session.session_key,
        )
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            request.session[NEW_CODES_KEY] = codes
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("accounts:two_factor")
        form.add_error(
            "code", _("That code is not valid. Check your phone's clock and try the current code.")
        )
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg(device.config_url),
            "secret": qr.base32_secret(device),
            "required": selectors.workspace_policy().require_2fa,
        },
    )


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    form = PasswordConfirmForm(request.POST)
    if form.is_valid():
        try:
            services.two_factor_disable(
                actor=request.principal, password=form.cleaned_data["password"]
            )
        except ValidationError as error:
            error_messages(request, error)
        else:
            messages.success(request, _("Two-factor authentication is off."))
    return redirect("accounts:two_factor")


@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    if not request.user.is_verified():
        messages.error(request, _("Sign in with your second factor first."))
        return redirect("accounts:two_factor")
    form = ReauthenticateForm(request.POST, prefix="regenerate")
    if form.is_valid():
        try:
            request.session[NEW_CODES_KEY] = services.recovery_codes_regenerate(
                actor=request.principal, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, _("New recovery codes were made; the old ones no longer work.")
            )
            return redirect("accounts:two_factor")
    return _two_factor_page(request, regenerate_form=form)


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/sessions.html",
        {
            "sessions": selectors.sessions_of(request.user),
            "current_key": request.session.session_key,
        },
    )


@login_required
@require_POST
def session_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.session_revoke(
            actor=request.principal, session_id=pk, current_key=request.session.session_key
        )
    except UserSession.DoesNotExist:
        messages.error(request, _("That session has already ended."))
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("That session was signed out."))
    return redirect("accounts:sessions")


@login_required
@require_POST
def sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_revoke_others(
        actor=request.principal, current_key=request.session.session_key
    )
    messages.success(
        request,
        ngettext(
            "Signed out of %(count)d other session.",
            "Signed out of %(count)d other sessions.",
            ended,
        )
        % {"count": ended},
    )
    return redirect("accounts:sessions")
