"""The console's pages (public host, ``/console/``). Views only call services and
selectors; every role is checked again in the service.

Sign-in: password (django-axes counts failures and locks out like a workspace's
sign-in; a per-ip rate limit on top), then the second factor, which every vendor
account must have: an account without one enrols before it is signed in at all.
"""

import time
from datetime import datetime
from datetime import time as day_time
from functools import wraps

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import dateformat
from django.utils.formats import date_format, get_format
from django.utils.timezone import get_current_timezone, localtime, make_aware
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login

import accounts.selectors as accounts_selectors
import accounts.services as accounts
import support.selectors as support_selectors
from core import qr, ratelimit
from core.access import explain
from core.forms import apply_errors, error_messages, form_error_messages
from core.middleware import client_ip
from core.principal import VENDOR_ROLES, is_vendor_staff, require_vendor_role, vendor_role
from core.workspace import current as current_workspace

from . import selectors, services, session
from .forms import (
    CodeForm,
    CompForm,
    FleetForm,
    InviteForm,
    MoveForm,
    PasswordForm,
    ReasonForm,
    RoleForm,
    TrialForm,
)

PENDING_KEY = "_console_pending"
# The second factor (or the enrolment) must follow the password within this many seconds.
PENDING_MAX_AGE = 300
LOGIN_RATE = (30, 900)  # sign-in posts per client ip per 15 minutes
NEW_CODES_KEY = "_console_new_codes"


def _has_role(actor, role: str) -> bool:
    try:
        require_vendor_role(actor, role)
    except PermissionDenied:
        return False
    return True


def vendor_required(role: str = "viewer"):
    """A console page: public host, signed-in vendor staff verified by a second factor,
    within the session limits, with at least ``role``."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not current_workspace().is_public:
                raise Http404  # never reachable from a workspace's host
            user = request.user
            if not (user.is_authenticated and is_vendor_staff(request.principal)):
                return redirect("console:login")
            if not user.is_verified():  # django-otp: no second factor in this session
                logout(request)
                return redirect("console:login")
            ended = session.ended_because(request)
            if ended:
                logout(request)
                messages.info(
                    request,
                    _("Your console session ended after 30 minutes without activity.")
                    if ended == "idle"
                    else _("Your console session reached its 12-hour limit."),
                )
                return redirect("console:login")
            session.touch(request)
            _track(request)
            if not _has_role(request.principal, role):
                raise PermissionDenied(_("Your console role does not allow this."))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _track(request: HttpRequest) -> None:
    """Keep the session's row (accounts' session list) fresh, once a minute."""
    if time.time() - request.session.get(session.TRACKED_KEY, 0) >= 60:
        request.session[session.TRACKED_KEY] = accounts.session_track(
            actor=request.principal,
            session_key=request.session.session_key,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )


def _context(request: HttpRequest, **extra) -> dict:
    actor = request.principal
    return {
        "can": {r: _has_role(actor, r) for r in VENDOR_ROLES},
        "console_role": vendor_role(actor),
        **extra,
    }


# --- sign-in ---------------------------------------------------------------------------


def _pending_user(request: HttpRequest):
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        return None, None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=pending["u"], is_staff=True, is_active=True).first()
    return user, pending


def _message(request: HttpRequest, title: str, message: str, *, status: int) -> HttpResponse:
    return render(
        request, "console/message.html", {"title": title, "message": message}, status=status
    )


def _too_many(request: HttpRequest) -> HttpResponse:
    return _message(
        request,
        _("Too many attempts"),
        _("Too many attempts from your network. Please wait a while and try again."),
        status=429,
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if not current_workspace().is_public:
        raise Http404
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        limit, window = LOGIN_RATE
        if not ratelimit.hit(f"console-login:{client_ip(request)}", limit=limit, window=window):
            return _too_many(request)
        if form.is_valid():
            user = form.get_user()
            if not user.is_staff:  # only vendor staff live here; say no more than that
                form.add_error(None, form.get_invalid_login_error())
            else:
                request.session.cycle_key()
                request.session[PENDING_KEY] = {"u": user.pk, "b": user.backend, "at": time.time()}
                if accounts_selectors.has_two_factor(user):
                    return redirect("console:login_verify")
                return redirect("console:enrol")
    return render(request, "console/login.html", {"form": form})


def _sign_in(request: HttpRequest, user, backend: str, device) -> None:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=backend)
    otp_login(request, device)
    session.start(request)


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step: an authenticator code or a recovery code."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("Your sign-in timed out. Please enter your password again."))
        return redirect("console:login")
    credentials = {"username": user.email}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(PENDING_KEY, None)
        return _locked(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = accounts.second_factor_verify(actor=user, token=form.cleaned_data["code"])
        if device is not None:
            _sign_in(request, user, pending["b"], device)
            return redirect("console:fleet")
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING_KEY, None)
            return _locked(request)
        form.add_error("code", _("That code is not valid."))
    return render(request, "console/login_verify.html", {"form": form})


def _locked(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    minutes = round(float(settings.AXES_COOLOFF_TIME or 0) * 60)
    return _message(
        request,
        _("Sign-in paused"),
        ngettext(
            "Too many failed sign-ins. Signing in is paused for %(minutes)s minute.",
            "Too many failed sign-ins. Signing in is paused for %(minutes)s minutes.",
            minutes,
        )
        % {"minutes": minutes},
        status=429,
    )


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in of an account without a second factor: set one up, or no console."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("Your sign-in timed out. Please enter your password again."))
        return redirect("console:login")
    if accounts_selectors.has_two_factor(user):
        return redirect("console:login_verify")
    device = accounts.totp_device_setup(actor=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = accounts.totp_enable(
            actor=user, token=form.cleaned_data["code"], current_session_key=None
        )
        if codes is not None:
            confirmed = next(
                d
                for d in devices_for_user(user, confirmed=True)
                if d.persistent_id.endswith(f"/{device.pk}")
            )
            _sign_in(request, user, pending["b"], confirmed)
            request.session[NEW_CODES_KEY] = codes
            return redirect("console:recovery_codes")
        form.add_error("code", _("That code is not valid. Check your phone's clock."))
    context = {
        "form": form,
        "qr_svg": qr.svg(device.config_url),
        "secret": qr.base32_secret(device),
    }
    return render(request, "console/enrol.html", context)


@vendor_required()
def recovery_codes(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop(NEW_CODES_KEY, None)
    if not codes:
        return redirect("console:fleet")
    return render(request, "console/recovery_codes.html", _context(request, codes=codes))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if not current_workspace().is_public:
        raise Http404
    logout(request)
    return redirect("console:login")


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    if not current_workspace().is_public:
        raise Http404
    limit, window = LOGIN_RATE
    if not ratelimit.hit(f"console-invite:{client_ip(request)}", limit=limit, window=window):
        return _too_many(request)
    invited = services.invitation_check(token=token)
    if invited is None:
        return _message(
            request,
            _("Invitation not valid"),
            _("This invitation link is not valid any more."),
            status=400,
        )
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.vendor_staff_invitation_accept(
                actor=request.principal, token=token, password=form.cleaned_data["password1"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, _("Your password is set. Sign in to set up two-factor authentication.")
            )
            return redirect("console:login")
    return render(request, "console/accept_invitation.html", {"form": form, "invited": invited})


# --- the fleet -------------------------------------------------------------------------


@vendor_required()
def fleet(request: HttpRequest) -> HttpResponse:
    plans = selectors.fleet_plans()
    form = FleetForm(
        request.GET or None,
        plans=[(plan.code, plan.name) for plan in plans],
        billing_statuses=selectors.billing_statuses(),
    )
    query = selectors.FleetQuery()
    if form.is_valid():
        data = form.cleaned_data
        query = selectors.FleetQuery(
            q=data["q"],
            state=data["state"],
            plan=data["plan"],
            billing_status=data["billing_status"],
            trial_ending=data["trial_ending"],
            read_only=data["read_only"],
            sort=data["sort"] or selectors.DEFAULT_SORT,
        )
    if query.is_search:
        services.fleet_search_record(
            actor=request.principal, query=query.q, filters=query.criteria()
        )
    page = selectors.fleet_search(
        actor=request.principal, query=query, page=request.GET.get("page", 1)
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/fleet.html",
        _context(
            request,
            form=form,
            page=page,
            rows=_FleetCells(plans).rows(page),
            params=params.urlencode(),
        ),
    )


class _FleetCells:
    """A fleet page's cells as text, formatted here once rather than through ~200
    template lookups per row. What does not vary by row (labels, each plan's limits,
    the active language's date formats, the time zone) is looked up once per request:
    a 50-row page then costs little more than a 1-row page."""

    def __init__(self, plans: list[selectors.FleetPlan]) -> None:
        self.plans = {
            plan.pk: (
                plan.name,
                f" / {plan.max_staff}",
                f" / {filesizeformat(plan.storage_quota_bytes)}",
            )
            for plan in plans
        }
        self.no_plan = ("—", " / —", f" / {filesizeformat(0)}")
        self.states = {value: str(label) for value, label in selectors.state_choices()}
        self.billing_statuses = {value: str(label) for value, label in selectors.billing_statuses()}
        self.date = _DateCells("SHORT_DATE_FORMAT")
        self.datetime = _DateCells("SHORT_DATETIME_FORMAT")

    def rows(self, page) -> list[dict]:
        """The page's rows, with their billing read in one query."""
        summaries = selectors.billing_of([row["tenant_id"] for row in page])
        return [self.row(row, summaries.get(row["tenant_id"])) for row in page]

    def row(self, row: dict, summary=None) -> dict:
        plan, seats_limit, quota = self.plans.get(row["tenant__plan_id"], self.no_plan)
        activity = row["last_activity_at"]
        state = row["tenant__state"]
        return {
            "pk": row["tenant_id"],
            "name": row["tenant__name"],
            "slug": row["tenant__slug"],
            "state": self.states.get(state, state),
            "read_only": bool(row["tenant__read_only_reasons"]),
            "plan": plan,
            "billing": _billing_cell(summary, self.billing_statuses),
            "seats": f"{row['seats_used']}{seats_limit}",
            "storage": f"{filesizeformat(row['storage_bytes'])}{quota}",
            "created": self.date(row["tenant__created_at"]),
            "activity": self.datetime(activity) if activity else "—",
        }


class _DateCells:
    """Aware datetimes as text in the active language's ``format_name`` and time zone,
    as ``date_format(localtime(value), format_name)`` writes them, with the format split
    into its codes once per page rather than once per value."""

    def __init__(self, format_name: str) -> None:
        self.zone = get_current_timezone()
        self.pieces = [
            (True, piece) if i % 2 else (False, dateformat.re_escaped.sub(r"\1", piece))
            for i, piece in enumerate(dateformat.re_formatchars.split(get_format(format_name)))
            if piece
        ]

    def __call__(self, value: datetime) -> str:
        formatter = dateformat.DateFormat(value.astimezone(self.zone))
        return "".join(
            [str(getattr(formatter, piece)()) if code else piece for code, piece in self.pieces]
        )


def _billing_cell(summary, labels: dict[str, str] | None = None) -> str:
    if summary is None:
        return ""
    labels = labels if labels is not None else dict(selectors.billing_statuses())
    text = str(labels.get(summary.status, summary.status))
    if summary.status == "trialing" and summary.trial_ends_at:
        text += " · " + _("ends %(date)s") % {
            "date": date_format(localtime(summary.trial_ends_at), "SHORT_DATE_FORMAT")
        }
    return text


LIFECYCLE = {
    "suspend": (services.workspace_suspend, _("The workspace is suspended.")),
    "reactivate": (services.workspace_reactivate, _("The workspace is active again.")),
    "freeze": (services.workspace_freeze, _("The workspace is read-only (vendor freeze).")),
    "unfreeze": (services.workspace_unfreeze, _("The vendor freeze is lifted.")),
}


@vendor_required()
def workspace(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = selectors.workspace(actor=request.principal, tenant_id=pk)
    if tenant is None:
        raise Http404
    services.workspace_view_record(actor=request.principal, tenant_id=tenant.pk)
    summary = selectors.billing_of([tenant.pk]).get(tenant.pk)
    reasons = list(tenant.read_only_reasons or [])
    actions = []
    if tenant.state == tenant.State.ACTIVE:
        actions.append(("suspend", _("Suspend")))
    if tenant.state == tenant.State.SUSPENDED:
        actions.append(("reactivate", _("Reactivate")))
    if tenant.state in (tenant.State.ACTIVE, tenant.State.SUSPENDED):
        actions.append(
            ("unfreeze", _("Lift the freeze"))
            if services.VENDOR_FREEZE in reasons
            else ("freeze", _("Freeze (read-only)"))
        )
    # Export, scheduled deletion and restore are offboarding's pages (linked from the
    # template): deletion must go through offboarding.services, which records the purge.
    return render(
        request,
        "console/workspace.html",
        _context(
            request,
            tenant=tenant,
            usage=selectors.usage_of(tenant),
            reasons=[(reason, explain(reason)) for reason in reasons],
            events=selectors.recent_events(actor=request.principal, tenant=tenant),
            history=selectors.action_history(actor=request.principal, tenant=tenant),
            support_sessions=support_selectors.sessions_of_tenant(tenant.pk, limit=10),
            support_policy=support_selectors.policy_for(tenant.pk),
            can_support=_has_role(request.principal, "support"),
            billing=summary,
            billing_label=_billing_cell(summary),
            billing_forms=(
                {
                    "trial": TrialForm(prefix="trial"),
                    "comp": CompForm(prefix="comp", plans=selectors.plans()),
                }
                if _has_role(request.principal, "billing")
                else None
            ),
            actions=actions if _has_role(request.principal, "support") else [],
            reason_form=ReasonForm(),
            cluster=_cluster(request, tenant),
        ),
    )


def _cluster(request: HttpRequest, tenant) -> dict | None:
    """On a Citus coordinator, for admins: where the workspace is, the workers, and the
    move form. None elsewhere."""
    if not _has_role(request.principal, services.ROLE_FOR["move"]):
        return None
    placement = selectors.placement_of(tenant)
    if placement is None:
        return None
    return {"placement": placement, "form": MoveForm(nodes=placement.other_nodes)}


@vendor_required(services.ROLE_FOR["move"])
@require_POST
def workspace_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue moving the workspace's schema to another Citus worker (the move runs in
    the background: it copies the schema while the workspace keeps working)."""
    tenant = selectors.workspace(actor=request.principal, tenant_id=pk)
    if tenant is None:
        raise Http404
    placement = selectors.placement_of(tenant)
    form = MoveForm(request.POST, nodes=placement.other_nodes if placement else [])
    if not form.is_valid():
        form_error_messages(request, form)
        return redirect("console:workspace", pk=pk)
    try:
        target = services.workspace_move_request(
            actor=request.principal, tenant_id=pk, to=form.cleaned_data["to"],
            reason=form.cleaned_data["reason"],
        )  # fmt: skip
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(
            request,
            _("The move to %(node)s is under way; the workspace keeps working meanwhile.")
            % {"node": target},
        )
    return redirect("console:workspace", pk=pk)


@vendor_required("support")
@require_POST
def workspace_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in LIFECYCLE:
        raise Http404
    service, done = LIFECYCLE[action]
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason: it is kept in the audit log."))
        return redirect("console:workspace", pk=pk)
    try:
        service(actor=request.principal, tenant_id=pk, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, done)
    return redirect("console:workspace", pk=pk)


BILLING_ACTIONS = {
    "trial": (TrialForm, _("The trial now ends on %(until)s.")),
    "comp": (CompForm, _("The workspace is on %(plan)s free of charge until %(until)s.")),
}


@vendor_required("billing")
@require_POST
def workspace_billing(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Extend a trial or give a plan free of charge (billing's services, through the
    console's, which record the vendor's action in the platform's chain)."""
    if action not in BILLING_ACTIONS:
        raise Http404
    form_class, done = BILLING_ACTIONS[action]
    extra = {"plans": selectors.plans()} if action == "comp" else {}
    form = form_class(request.POST, prefix=action, **extra)
    if not form.is_valid():
        form_error_messages(request, form)
        return redirect("console:workspace", pk=pk)
    data = form.cleaned_data
    # The end of the chosen day, in the site's time zone.
    until = make_aware(datetime.combine(data["until"], day_time.max))
    try:
        if action == "trial":
            services.workspace_trial_extend(
                actor=request.principal, tenant_id=pk, until=until, reason=data["reason"]
            )
        else:
            services.workspace_plan_comp(
                actor=request.principal, tenant_id=pk, plan_code=data["plan"], until=until,
                reason=data["reason"],
            )  # fmt: skip
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(
            request,
            done % {"until": date_format(data["until"], "SHORT_DATE_FORMAT"),
                    "plan": data.get("plan", "")},
        )  # fmt: skip
    return redirect("console:workspace", pk=pk)


# --- vendor staff and own sessions -----------------------------------------------------


@vendor_required("admin")
@require_http_methods(["GET", "POST"])
def staff(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = services.vendor_staff_invite(actor=request.principal, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("%(email)s is invited.") % {"email": invited.email})
            return redirect("console:staff")
    return render(
        request,
        "console/staff.html",
        _context(
            request,
            form=form,
            people=selectors.vendor_staff(actor=request.principal),
            role_form=RoleForm(),
            reason_form=ReasonForm(),
        ),
    )


@vendor_required("admin")
@require_POST
def staff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    form = (RoleForm if action == "role" else ReasonForm)(request.POST)
    if action not in {"role", "deactivate", "reactivate"}:
        raise Http404
    if not form.is_valid():
        messages.error(request, _("Give a reason: it is kept in the audit log."))
        return redirect("console:staff")
    data = form.cleaned_data
    try:
        if action == "role":
            services.vendor_staff_change_role(
                actor=request.principal, user_id=pk, role=data["role"], reason=data["reason"]
            )
        elif action == "deactivate":
            services.vendor_staff_deactivate(
                actor=request.principal, user_id=pk, reason=data["reason"]
            )
        else:
            services.vendor_staff_reactivate(
                actor=request.principal, user_id=pk, reason=data["reason"]
            )
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("Saved."))
    return redirect("console:staff")


@vendor_required()
def sessions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/sessions.html",
        _context(
            request,
            sessions=accounts_selectors.sessions_of(request.user),
            current_key=request.session.session_key,
        ),
    )


@vendor_required()
@require_POST
def session_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        accounts.session_revoke(
            actor=request.principal, session_id=pk, current_key=request.session.session_key
        )
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("That session is signed out."))
    return redirect("console:sessions")


@vendor_required()
@require_POST
def sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    ended = accounts.sessions_revoke_others(
        actor=request.principal, current_key=request.session.session_key
    )
    messages.success(
        request,
        ngettext(
            "Signed out of %(count)s other session.",
            "Signed out of %(count)s other sessions.",
            ended,
        )
        % {"count": ended},
    )
    return redirect("console:sessions")
