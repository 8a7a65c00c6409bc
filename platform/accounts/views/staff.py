"""Staff management pages (owners and admins): list, invite, roles, status, policy."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.decorators import role_required
from core.forms import apply_errors, error_messages

from .. import permissions, selectors, services
from ..forms import InviteForm, RoleForm, StaffFilterForm, WorkspacePolicyForm
from ..models import Invitation, User

manager_required = role_required(permissions.can_manage_staff)


@manager_required
@require_http_methods(["GET"])
def staff_list(request: HttpRequest) -> HttpResponse:
    filters = StaffFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    staff = selectors.staff_list(
        query=data.get("q", ""), role=data.get("role", ""), status=data.get("status", "")
    )
    return render(
        request,
        "accounts/staff_list.html",
        {
            "filters": filters,
            "staff": staff,
            "invitations": selectors.pending_invitations(),
            "locked": selectors.locked_usernames(),
            "seats": selectors.seat_usage(),
        },
    )


@manager_required
@require_http_methods(["GET", "POST"])
def staff_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None, actor=request.principal)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.staff_invite(
                actor=request.principal,
                emails=services.parse_emails(form.cleaned_data["emails"]),
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if result.invited:
                messages.success(
                    request,
                    _("Invitation sent to: %(emails)s.")
                    % {"emails": ", ".join(i.email for i in result.invited)},
                )
            for email, reason in result.skipped.items():
                messages.warning(request, f"{email}: {reason}")
            return redirect("accounts:staff_list")
    return render(
        request, "accounts/staff_invite.html", {"form": form, "seats": selectors.seat_usage()}
    )


def _invitation_action(request: HttpRequest, pk: int, service, done) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        service(actor=request.principal, invitation=invitation)
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, done % {"email": invitation.email})
    return redirect("accounts:staff_list")


@manager_required
@require_POST
def invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_action(
        request, pk, services.invitation_resend, _("A new invitation was sent to %(email)s.")
    )


@manager_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_action(
        request, pk, services.invitation_revoke, _("The invitation to %(email)s was revoked.")
    )


@manager_required
@require_http_methods(["GET"])
def staff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk, is_staff=False)
    return _detail_page(request, member)


def _detail_page(request: HttpRequest, member: User, role_form: RoleForm | None = None):
    role_form = role_form or RoleForm(initial={"role": member.role}, actor=request.principal)
    return render(
        request,
        "accounts/staff_detail.html",
        {
            "member": member,
            "role_form": role_form,
            "can_act": permissions.can_act_on(request.principal, member),
            "locked": selectors.is_locked_out(member),
            "has_2fa": selectors.has_two_factor(member),
            "session_count": selectors.sessions_of(member).count(),
        },
    )


_ACTIONS = {
    "role": (services.staff_change_role, gettext_lazy("The role was changed.")),
    "deactivate": (
        services.staff_deactivate,
        gettext_lazy("The account was deactivated and signed out everywhere."),
    ),
    "reactivate": (services.staff_reactivate, gettext_lazy("The account was reactivated.")),
    "unlock": (
        services.staff_unlock,
        gettext_lazy("Failed sign-ins were cleared: the account can sign in again."),
    ),
    "reset_2fa": (
        services.staff_reset_two_factor,
        gettext_lazy("Two-factor authentication was reset."),
    ),
}


@manager_required
@require_POST
def staff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    member = get_object_or_404(User, pk=pk, is_staff=False)
    if action not in _ACTIONS:
        return redirect("accounts:staff_detail", pk=pk)
    service, done = _ACTIONS[action]
    kwargs = {"actor": request.principal, "user": member}
    if action == "role":
        form = RoleForm(request.POST, actor=request.principal)
        if not form.is_valid():
            return _detail_page(request, member, role_form=form)
        kwargs["role"] = form.cleaned_data["role"]
    try:
        service(**kwargs)
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, done)
    return redirect("accounts:staff_detail", pk=pk)


@manager_required
@require_http_methods(["GET", "POST"])
def workspace_security(request: HttpRequest) -> HttpResponse:
    policy = selectors.workspace_policy()
    form = WorkspacePolicyForm(request.POST or None, initial={"require_2fa": policy.require_2fa})
    if request.method == "POST" and form.is_valid():
        services.workspace_policy_update(
            actor=request.principal, require_2fa=form.cleaned_data["require_2fa"]
        )
        messages.success(request, _("The security policy was saved."))
        return redirect("accounts:workspace_security")
    return render(request, "accounts/workspace_security.html", {"form": form})
