"""Documents pages. Views parse the request and call ``uploads.services``; nothing here
decides permissions on its own. Uploads are parsed by ``QuarantineUploadHandler``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import can_write, is_workspace_admin
from core.decorators import role_required
from core.error_pages import error_page, problem
from core.forms import error_messages
from tenants.selectors import current_tenant

from . import selectors, services
from .handlers import QuarantineUploadHandler
from .models import Document
from .permissions import can_manage


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _get_or_404(call, **kwargs):
    """Run a service; an id unknown in this workspace (another tenant's, say) is a 404."""
    try:
        return call(**kwargs)
    except Document.DoesNotExist as exc:
        raise Http404 from exc


DOCUMENTS_PER_PAGE = 25


@login_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    limits = selectors.upload_limits(tenant=current_tenant())
    is_admin = is_workspace_admin(request.principal)
    query = request.GET.get("q", "").strip()[:255]
    sort = request.GET.get("sort", "")
    if sort not in selectors.DOCUMENT_SORTS:
        sort = selectors.DEFAULT_DOCUMENT_SORT
    page = Paginator(
        selectors.search_documents(query=query, sort=sort), DOCUMENTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    for document in page.object_list:
        document.can_manage = can_manage(request.principal, document)
    context = {
        "documents": page.object_list,
        "page": page,
        "query": query,
        "sort": sort,
        "limits": limits,
        "can_upload": can_write(request.principal),
        "blocked": list(selectors.blocked_documents()[:20]) if is_admin else [],
        "deleted": list(selectors.recently_deleted()) if is_admin else [],
        "restore_days": settings.UPLOADS_RESTORE_DAYS,
        "State": Document.State,
    }
    return render(request, "uploads/documents.html", context)


# Room for the multipart boundaries, part headers and the CSRF field around the files.
MULTIPART_SLACK_BYTES = 64 * 1024


def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """Answer before the body is read; the client gets a clear reason, not a reset.

    No ``Connection: close`` here: WSGI forbids hop-by-hop headers (the development
    server refuses the response with a 500), and the server closes the connection itself
    (gunicorn's sync worker after every response, runserver after draining the body).
    """
    if _wants_json(request):
        return problem(status, message, documents=[], errors=[message])
    return error_page(request, status, message)


def _declared_too_large(request: HttpRequest, limits: selectors.UploadLimits) -> str:
    """The limit a request's announced size already breaks, judged from
    ``Content-Length`` (and ``X-Upload-Files``, the file count the page sends)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        files = int(request.headers.get("X-Upload-Files", "0"))
    except ValueError:
        return ""
    payload = length - MULTIPART_SLACK_BYTES
    if files > 0 and payload > files * limits.max_file_bytes:
        return _("This upload is larger than the limit of %(limit)s per file.") % {
            "limit": filesizeformat(limits.max_file_bytes)
        }
    if payload > limits.quota_left_bytes:
        return _("This upload would exceed your workspace's storage quota (%(left)s left).") % {
            "left": filesizeformat(limits.quota_left_bytes)
        }
    return ""


@csrf_exempt  # the handler must be installed before the body is read; CSRF checked below
@login_required
@require_POST
@role_required(can_write)  # before a byte is spooled; service re-checks
def document_upload(request: HttpRequest) -> HttpResponse:
    limits = selectors.upload_limits(tenant=current_tenant())
    too_large = _declared_too_large(request, limits)
    if too_large:
        return _refuse(request, too_large, 413)
    request.upload_handlers = [
        QuarantineUploadHandler(
            request,
            max_file_bytes=limits.max_file_bytes,
            quota_left_bytes=limits.quota_left_bytes,
        )
    ]
    return _upload(request)


def storage_unavailable(request: HttpRequest, created=(), *, saving: bool = True) -> HttpResponse:
    """503 when storage cannot take or give a file: a page, or for JSON clients an
    RFC 9457 problem (its ``errors`` list is what the documents page shows)."""
    if saving:
        detail = _(
            "Document storage is unavailable at the moment, so nothing was saved. "
            "Please try again in a few minutes."
        )
    else:
        detail = _(
            "Document storage is unavailable at the moment. Please try again in a few minutes."
        )
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {
                "type": "about:blank",
                "title": _("Storage unavailable"),
                "status": 503,
                "detail": detail,
                "errors": [detail],
                "documents": [_as_json(d) for d in created],
            },
            status=503,
            content_type="application/problem+json",
        )
    else:
        response = render(
            request,
            "uploads/unavailable.html",
            {"message": detail, "created": created},
            status=503,
        )
    response["Retry-After"] = "60"
    response["Connection"] = "close"
    return response


def _as_json(document: Document) -> dict:
    return {"id": str(document.id), "name": document.name, "state": document.state,
            "size": document.size}  # fmt: skip


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    try:
        files = request.FILES.getlist("files")
        rejection = getattr(request, "upload_rejection", "")
        created, errors = [], []
        if getattr(request, "upload_storage_error", False):
            return storage_unavailable(request)
        if rejection:
            errors.append(rejection)
        elif not files:
            errors.append(_("Choose at least one file to upload."))
        else:
            for upload in files:
                try:
                    created.append(
                        services.document_upload(
                            actor=request.principal,
                            name=upload.name,
                            path=upload.temporary_file_path(),
                            size=upload.size,
                            sha256=upload.sha256,
                            client_content_type=upload.content_type or "",
                        )
                    )
                except services.UploadRejected as exc:
                    errors.extend(exc.messages)
                except services.StorageUnavailable:
                    return storage_unavailable(request, created)
    finally:
        for upload in request.FILES.getlist("files"):
            upload.close()
    if _wants_json(request):
        payload = {
            "documents": [_as_json(d) for d in created],
            "errors": errors,
        }
        return JsonResponse(payload, status=413 if errors and not created else 200)
    for error in errors:
        messages.error(request, error)
    if created:
        messages.success(
            request,
            ngettext(
                "Uploaded %(count)d file; it is available once the virus scan is done.",
                "Uploaded %(count)d files; they are available once the virus scan is done.",
                len(created),
            )
            % {"count": len(created)},
        )
    return redirect("uploads:list")


@login_required
@require_GET
def document_download(request: HttpRequest, document_id) -> HttpResponse:
    try:
        ticket = _get_or_404(
            services.document_download,
            actor=request.principal,
            document_id=document_id,
            inline=request.GET.get("inline") == "1",
        )
    except services.DocumentNotAvailable:
        return error_page(request, 409, _("This document is not available for download."))
    except services.StorageUnavailable:
        return storage_unavailable(request, saving=False)
    if ticket.url:
        response: HttpResponse = HttpResponseRedirect(ticket.url)
        response["Cache-Control"] = "no-store"
        return response
    response = FileResponse(ticket.open(), content_type=ticket.document.content_type)
    response["Content-Disposition"] = ticket.disposition
    response["Content-Length"] = str(ticket.document.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def document_rename(request: HttpRequest, document_id) -> HttpResponse:
    name = request.POST.get("name", "")
    if not name.strip():
        messages.error(request, _("A document needs a name."))
        return redirect("uploads:list")
    document = _get_or_404(
        services.document_rename, actor=request.principal, document_id=document_id, name=name
    )
    messages.success(request, _("Renamed to “%(name)s”.") % {"name": document.name})
    return redirect("uploads:list")


@login_required
@require_POST
def document_delete(request: HttpRequest, document_id) -> HttpResponse:
    document = _get_or_404(
        services.document_delete, actor=request.principal, document_id=document_id
    )
    messages.success(
        request,
        ngettext(
            "Deleted “%(name)s”. An admin can restore it for %(days)d day.",
            "Deleted “%(name)s”. An admin can restore it for %(days)d days.",
            settings.UPLOADS_RESTORE_DAYS,
        )
        % {"name": document.name, "days": settings.UPLOADS_RESTORE_DAYS},
    )
    return redirect("uploads:list")


@login_required
@require_POST
def document_restore(request: HttpRequest, document_id) -> HttpResponse:
    try:
        document = _get_or_404(
            services.document_restore, actor=request.principal, document_id=document_id
        )
    except ValidationError as error:
        error_messages(request, error)
        return redirect("uploads:list")
    messages.success(request, _("Restored “%(name)s”.") % {"name": document.name})
    return redirect("uploads:list")


@login_required
@require_GET
def document_states(request: HttpRequest) -> JsonResponse:
    """States of documents (``?id=`` repeated: those; else all), polled by the page
    while scans are running: each with its state's label in the reader's language."""
    rows = selectors.visible_documents()
    wanted = request.GET.getlist("id")[:DOCUMENTS_PER_PAGE]
    if wanted:
        try:
            rows = rows.filter(id__in=[uuid.UUID(value) for value in wanted])
        except ValueError:
            return JsonResponse({"documents": [], "errors": [_("Unknown document.")]}, status=400)
    labels = dict(Document.State.choices)
    return JsonResponse(
        {
            "documents": [
                {
                    "id": str(row["id"]),
                    "state": row["state"],
                    "label": str(labels.get(row["state"], row["state"])),
                    "download_url": reverse("uploads:download", args=[row["id"]])
                    if row["state"] == Document.State.AVAILABLE
                    else "",
                }
                for row in rows.values("id", "state")
            ]
        }
    )
