"""Support pages.

Console (public host, ``/console/support/``; vendor staff only: login and
``is_vendor_staff`` here, the vendor role in the services): running sessions, start a
session as a user of a workspace, open it (the hand-off), end or revoke it.

Workspace host: the consent settings and the list of support sessions (owners and admins,
``/settings/support/``), the hand-off endpoint, "end now" and the page shown when a
session ended.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import is_workspace_admin
from core.decorators import role_required
from core.forms import apply_errors
from core.principal import is_vendor_staff, require_vendor_role
from core.workspace import current as current_workspace
from tenants.selectors import public_url, tenant_for_slug

from . import clock, selectors, services
from .forms import ConsentForm, StartForm
from .middleware import SESSION_KEY
from .models import EndCause

# --- console (public host) ------------------------------------------------------------


def vendor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in vendor staff, verified by a second factor, on the public site only; the
    services check the role."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not current_workspace().is_public:
            raise PermissionDenied
        login_url = getattr(settings, "CONSOLE_LOGIN_URL", "/console/login/")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=login_url)
        if not is_vendor_staff(request.principal):
            raise PermissionDenied
        # Vendor accounts must have passed their second factor (django-otp) in this
        # session: the console's sign-in asks for it.
        if not request.user.is_verified():
            return redirect_to_login(request.get_full_path(), login_url=login_url)
        return view(request, *args, **kwargs)

    return wrapper


@vendor_required
@require_GET
def console_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "support/console_index.html",
        {
            "active": selectors.active_sessions()[:100],
            "mine": selectors.sessions_of_vendor(request.user.pk),
        },
    )


@vendor_required
@require_http_methods(["GET", "POST"])
def console_start(request: HttpRequest) -> HttpResponse:
    # The workspace's user list is for those who may start a session (the service checks
    # again when one starts).
    require_vendor_role(request.principal, "support")
    slug = (request.POST.get("workspace") or request.GET.get("workspace") or "").strip().lower()
    users = selectors.workspace_users(slug, query=request.GET.get("q", "")) if slug else []
    policy = None
    if slug and users:
        policy = selectors.policy_for(tenant_for_slug(slug).pk)
    form = StartForm(request.POST if request.method == "POST" else None, users=users)
    if request.method == "POST" and form.is_valid():
        try:
            row = services.support_session_start(
                actor=request.principal,
                tenant_slug=slug,
                user_id=form.cleaned_data["user"],
                reason=form.cleaned_data["reason"],
                ticket=form.cleaned_data["ticket"],
                mode=form.cleaned_data["mode"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The support session started."))
            return redirect("support_console:detail", pk=row.pk)
    return render(
        request,
        "support/console_start.html",
        {"form": form, "slug": slug, "users": users, "policy": policy},
    )


def _own(request: HttpRequest, pk) -> object:
    row = selectors.session_of_vendor(request.user.pk, str(pk))
    if row is None:
        raise PermissionDenied
    return row


@vendor_required
@require_GET
def console_detail(request: HttpRequest, pk) -> HttpResponse:
    row = _own(request, pk)
    return render(
        request,
        "support/console_detail.html",
        {"row": row, "ends_at": selectors.ends_at(row)},
    )


@vendor_required
@require_POST
def console_open(request: HttpRequest, pk) -> HttpResponse:
    """The hand-off: a page whose form posts the fresh token to the workspace host by
    itself (a script of ours; a button without JavaScript)."""
    try:
        handoff = services.support_handoff_issue(actor=request.principal, session_id=str(pk))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("support_console:detail", pk=pk)
    response = render(request, "support/handoff.html", {"handoff": handoff})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@vendor_required
@require_POST
def console_end(request: HttpRequest, pk) -> HttpResponse:
    services.support_session_end(actor=request.principal, session_id=str(pk))
    messages.success(request, _("The support session ended."))
    return redirect("support_console:index")


# --- workspace host ----------------------------------------------------------------------


def _workspace_admin(principal) -> bool:
    return is_workspace_admin(principal) and principal.audit_impersonator is None


@role_required(_workspace_admin)
@require_http_methods(["GET", "POST"])
def workspace_settings(request: HttpRequest) -> HttpResponse:
    tenant_id = current_workspace().tenant_id
    policy = selectors.policy_for(tenant_id)
    initial = {"mode": policy.mode, "until": policy.until, "notify_owners": policy.notify_owners}
    form = ConsentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_policy_update(actor=request.principal, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Support access was saved."))
            return redirect("support:settings")
    return render(
        request,
        "support/workspace_settings.html",
        {"form": form, "sessions": selectors.sessions_of_tenant(tenant_id)},
    )


@role_required(_workspace_admin)
@require_POST
def workspace_end(request: HttpRequest, pk) -> HttpResponse:
    services.support_session_end(actor=request.principal, session_id=str(pk))
    messages.success(request, _("The support session ended."))
    return redirect("support:settings")


@csrf_exempt  # posted from the console's host; the signed single-use token is the proof
@require_POST
def handoff(request: HttpRequest) -> HttpResponse:
    """Redeem the console's token and sign this browser in as the user, in a fresh session
    marked as a support session. No signal is sent: the user's ``last_login``, their own
    session list and the lockout counters stay as they are."""
    try:
        row, user = services.support_handoff_redeem(
            actor=request.principal, token=request.POST.get("token", ""), host=request.get_host()
        )
    except services.HandoffError as error:
        return render(request, "support/handoff_refused.html", {"reason": str(error)}, status=403)
    session = request.session
    session.flush()
    session[AUTH_SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[SESSION_KEY] = str(row.pk)
    session.set_expiry(max(int((row.expires_at - clock.now()).total_seconds()), 1))
    rotate_token(request)
    return redirect("dashboard")


@require_POST
def end_now(request: HttpRequest) -> HttpResponse:
    """The banner's "end now": the session ends itself and the browser is signed out."""
    row = getattr(request, "support_session", None)
    if row is None:
        raise PermissionDenied
    services.support_session_end(actor=request.principal, session_id=str(row.pk))
    request.session.flush()
    return redirect(reverse("support:ended") + f"?cause={EndCause.VENDOR}")


@require_GET
def ended(request: HttpRequest) -> HttpResponse:
    cause = request.GET.get("cause", "")
    label = EndCause(cause).label if cause in EndCause.values else ""
    return render(
        request,
        "support/ended.html",
        {"cause": label, "console_url": public_url("/console/support/")},
    )
