"""Pages of offboarding: the console's (public host, ``/console/offboarding/``) and the
workspace owners' exports page (``/settings/exports/``). Views only parse requests;
every permission is checked again in the services."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import apply_errors
from core.principal import is_vendor_staff
from tenants.selectors import Tenant, current_tenant

from . import selectors, services
from .forms import ReasonForm, ScheduleForm

CONSOLE_LOGIN = "/console/login/"


def vendor_required(view):
    """Signed in (with a second factor) as vendor staff on the public site; else the
    console's sign-in, or 403 for anyone else."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return HttpResponseRedirect(f"{CONSOLE_LOGIN}?{urlencode({'next': request.path})}")
        principal = getattr(request, "principal", user)
        verified = getattr(user, "is_verified", lambda: False)()
        if not is_vendor_staff(principal) or not verified:
            raise PermissionDenied(_("This page is for the vendor's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def owner_required(view):
    """A workspace owner acting as themselves (never a support session)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.path})}")
        principal = request.principal
        user = principal.acting_user
        if principal.audit_impersonator is not None or user is None or user.role != "owner":
            raise PermissionDenied(_("Only the workspace's owners can export it."))
        return view(request, *args, **kwargs)

    return wrapper


def _stream(link: services.ExportLink) -> HttpResponse:
    if not link.streamed:
        return HttpResponseRedirect(link.url)
    response = FileResponse(
        services.open_export(link.export), as_attachment=True, filename=link.filename,
        content_type="application/zip",
    )  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def _fail(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


# --- the console -----------------------------------------------------------------------


def _tenant_or_404(pk: int) -> Tenant:
    tenant = Tenant.objects.filter(pk=pk).first()
    if tenant is None:
        raise Http404
    return tenant


@vendor_required
@require_http_methods(["GET"])
def console_workspace(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(pk)
    return render(request, "offboarding/console_workspace.html", {
        "tenant": tenant,
        "exports": selectors.exports_of(tenant.pk),
        "deletion": selectors.open_deletion(tenant.pk),
        "history": selectors.deletions_of(tenant.pk)[:20],
        "export_form": ReasonForm(prefix="export"),
        "schedule_form": ScheduleForm(prefix="schedule"),
        "restore_form": ReasonForm(prefix="restore"),
    })  # fmt: skip


def _console_action(request: HttpRequest, pk: int, form, run, done: str) -> HttpResponse:
    tenant = _tenant_or_404(pk)
    if form.is_valid():
        try:
            run(tenant, form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
            _fail(request, error)
        else:
            messages.success(request, done)
    else:
        messages.error(request, _("Give a reason: it is kept in the audit log."))
    return redirect("offboarding_console:workspace", pk=tenant.pk)


@vendor_required
@require_POST
def console_export(request: HttpRequest, pk: int) -> HttpResponse:
    return _console_action(
        request, pk, ReasonForm(request.POST, prefix="export"),
        lambda tenant, data: services.export_request(
            actor=request.principal, tenant_id=tenant.pk, reason=data["reason"]),
        _("The export is being written."),
    )  # fmt: skip


@vendor_required
@require_POST
def console_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _console_action(
        request, pk, ScheduleForm(request.POST, prefix="schedule"),
        lambda tenant, data: services.deletion_schedule(
            actor=request.principal, tenant_id=tenant.pk, reason=data["reason"],
            grace_days=data["grace_days"]),
        _("The workspace is scheduled for deletion; its owners were emailed."),
    )  # fmt: skip


@vendor_required
@require_POST
def console_restore(request: HttpRequest, pk: int) -> HttpResponse:
    return _console_action(
        request, pk, ReasonForm(request.POST, prefix="restore"),
        lambda tenant, data: services.deletion_restore(
            actor=request.principal, tenant_id=tenant.pk, reason=data["reason"]),
        _("The workspace is restored."),
    )  # fmt: skip


@vendor_required
@require_POST
def console_download(request: HttpRequest, export_id) -> HttpResponse:
    try:
        link = services.export_download(actor=request.principal, export_id=export_id)
    except ValidationError as error:
        export = selectors.export(export_id)
        _fail(request, error)
        if export is None:
            raise Http404 from error
        return redirect("offboarding_console:workspace", pk=export.tenant_id)
    return _stream(link)


# --- the workspace's owners ------------------------------------------------------------


@owner_required
@require_http_methods(["GET", "POST"])
def workspace_exports(request: HttpRequest) -> HttpResponse:
    tenant = current_tenant()
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.export_request(
                actor=request.principal, tenant_id=tenant.pk, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("The export is being written. Come back in a while."))
            return redirect("offboarding:exports")
    return render(request, "offboarding/workspace_exports.html", {
        "form": form, "exports": selectors.exports_of(tenant.pk),
    })  # fmt: skip


@owner_required
@require_POST
def workspace_download(request: HttpRequest, export_id) -> HttpResponse:
    export = selectors.export(export_id)
    if export is None or export.tenant_id != current_tenant().pk:
        raise Http404
    try:
        link = services.export_download(actor=request.principal, export_id=export_id)
    except ValidationError as error:
        _fail(request, error)
        return redirect("offboarding:exports")
    return _stream(link)
