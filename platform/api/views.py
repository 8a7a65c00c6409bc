"""The REST API, version 1 (``/api/v1/``). Views parse requests and call the same
services and selectors as the pages, with the token's principal as the actor; every
error is a problem document (``api.problems``)."""

from __future__ import annotations

import uuid
from datetime import date

from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

import accounts.selectors as accounts_selectors
import accounts.services as accounts_services
import audit.selectors as audit_selectors
import audit.services as audit_services
import uploads.selectors as uploads_selectors
import uploads.services as uploads_services
from audit import registry
from billing.selectors import plan_for
from core.workspace import current as current_workspace
from tenants.selectors import current_tenant
from uploads.handlers import QuarantineUploadHandler

from . import limits
from . import serializers as s
from .idempotency import idempotent
from .pagination import keyset_page, paged
from .problems import Problem

# Free text in a query: anything but NUL (PostgreSQL text cannot hold it).
TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}
STATE_PARAM = OpenApiParameter(
    "state", str, enum=s.DOCUMENT_STATES, description="only documents in this state"
)
CURSOR_PARAMS = [
    OpenApiParameter(
        "cursor", str,
        description="next_cursor of the previous page (opaque and signed: any other value "
        "is a 400 bad-cursor)",
    ),
    OpenApiParameter(
        "page_size", {"type": "integer", "minimum": 1, "maximum": 100},
        description="1 to 100 (default 25)",
    ),
]  # fmt: skip
# The URLs take any text as an id, so that a malformed one gets the API's own 404 problem
# rather than Django's page; the schema says what an id really is.
STAFF_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="a member's id")
INVITATION_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="a pending invitation's id"
)
DOCUMENT_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="a document's id"
)
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": "^[!-~]{1,255}$"},
    location=OpenApiParameter.HEADER,
    description="retries with the same key and body get the first answer (24 hours)",
)


def _principal(request):
    return request._request.principal


class ApiView(APIView):
    # Bearer token, scopes, then the grant's rate limit (from the plan, in Redis). No
    # docstring: the schema would show it as every operation's description.

    required_scopes: dict[str, str] = {}
    parser_classes = [JSONParser]

    def initial(self, request, *args, **kwargs) -> None:
        self.rate_headers: dict[str, str] = {}
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: a filter with one is refused, not a 500.
        if any("\x00" in v for _name, values in request.query_params.lists() for v in values):
            raise Problem("validation", _("Parameters cannot contain NUL characters."))
        principal = _principal(request)
        workspace = current_workspace()
        per_minute = limits.per_minute(workspace.tenant_id, lambda: plan_for(current_tenant()))
        user = principal.user
        grant = f"{workspace.schema_name}:{principal.app_id}:{user.pk if user else '-'}"
        verdict = limits.hit(grant, limit=per_minute, used=(workspace.schema_name, principal))
        self.rate_headers = verdict.headers()
        if not verdict.allowed:
            raise Problem(
                "rate-limited",
                _("Too many requests for this grant; retry in %(seconds)d seconds.")
                % {"seconds": verdict.reset},
                retry_after=verdict.reset,
            )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in getattr(self, "rate_headers", {}).items():
            response[name] = value
        response.setdefault("Cache-Control", "no-store")
        return response


def _not_found() -> Problem:
    return Problem("not-found", _("There is no such resource in this workspace."))


def _int_id(value: str) -> int:
    if not str(value).isdigit() or len(str(value)) > 18:
        raise _not_found()
    return int(value)


# --- me and workspace ----------------------------------------------------------------


class MeView(ApiView):
    @extend_schema(responses=s.MeSerializer, summary="Who this token acts as")
    def get(self, request):
        principal = _principal(request)
        acting = principal.acting_user
        return Response(
            {
                "app": {"id": principal.app_id, "name": principal.name},
                "user": s.UserSerializer(principal.user).data if principal.user else None,
                "scopes": sorted(principal.scopes),
                "role": getattr(acting, "role", None),
            }
        )


class WorkspaceView(ApiView):
    required_scopes = {"GET": "workspace:read"}

    @extend_schema(responses=s.WorkspaceSerializer, summary="Name, plan, limits and usage")
    def get(self, request):
        tenant = current_tenant()
        plan = plan_for(tenant)
        seats = accounts_selectors.seat_usage(plan=plan)
        return Response(
            {
                "name": tenant.name,
                "slug": tenant.slug,
                "plan": {
                    "code": plan.code,
                    "name": plan.name,
                    "max_staff": plan.max_staff,
                    "storage_quota_bytes": plan.storage_quota_bytes,
                    "max_upload_bytes": uploads_selectors.max_file_bytes(plan),
                    "api_requests_per_minute": getattr(
                        plan, "api_requests_per_minute", limits.DEFAULT_PER_MINUTE
                    ),
                },
                "usage": {
                    "active_staff": seats.active,
                    "pending_invitations": seats.pending,
                    "storage_used_bytes": uploads_selectors.storage_used_bytes(),
                },
            }
        )


# --- staff and invitations -----------------------------------------------------------


def _require_staff_manager(request) -> None:
    if not accounts_selectors.is_workspace_admin(_principal(request)):
        raise Problem("forbidden", _("Only workspace owners and admins manage staff."))


def _member(request, pk) -> object:
    _require_staff_manager(request)
    user = accounts_selectors.staff_list().filter(pk=_int_id(pk)).first()
    if user is None:
        raise _not_found()
    return user


class StaffListView(ApiView):
    required_scopes = {"GET": "staff:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("q", TEXT, description="part of a name or email"),
            OpenApiParameter("role", str, enum=s.ROLE_CHOICES),
            OpenApiParameter("status", str, enum=["active", "deactivated", "locked"]),
            *CURSOR_PARAMS,
        ],
        responses=s.page_of(s.UserSerializer, "StaffPage"),
        operation_id="staff_list",
        summary="Staff, with filters",
    )
    def get(self, request):
        _require_staff_manager(request)
        params = request.query_params
        role, status = params.get("role"), params.get("status")
        if role is not None and role not in s.ROLE_CHOICES:
            raise Problem("validation", _("Unknown role."), errors=[f"role: {role[:20]}"])
        if status is not None and status not in ("active", "deactivated", "locked"):
            raise Problem("validation", _("Unknown status."), errors=[f"status: {status[:20]}"])
        rows = accounts_selectors.staff_list(
            query=params.get("q", "").strip()[:255], role=role or "", status=status or ""
        )
        found, cursor = keyset_page(
            rows, params=params, fields=["id"], descending=False, list_name="staff"
        )
        return Response(paged(request, s.UserSerializer(found, many=True).data, cursor))


@extend_schema(parameters=[STAFF_ID])
class StaffDetailView(ApiView):
    required_scopes = {"GET": "staff:read"}

    @extend_schema(responses=s.UserSerializer, summary="One member of staff")
    def get(self, request, pk):
        return Response(s.UserSerializer(_member(request, pk)).data)


@extend_schema(parameters=[STAFF_ID])
class StaffRoleView(ApiView):
    required_scopes = {"POST": "staff:write"}

    @extend_schema(
        request=s.RoleChangeSerializer, responses=s.UserSerializer, summary="Change a role",
        parameters=[IDEMPOTENCY_PARAM],
    )  # fmt: skip
    @idempotent
    def post(self, request, pk):
        data = s.RoleChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = accounts_services.staff_change_role(
            actor=_principal(request), user=_member(request, pk), role=data.validated_data["role"]
        )
        return Response(s.UserSerializer(user).data)


@extend_schema(parameters=[STAFF_ID])
class StaffStatusView(ApiView):
    # Deactivate or reactivate (``action_name`` from the URL).

    required_scopes = {"POST": "staff:write"}
    action_name = ""

    @extend_schema(request=None, responses=s.UserSerializer, parameters=[IDEMPOTENCY_PARAM])
    @idempotent
    def post(self, request, pk):
        service = (
            accounts_services.staff_deactivate
            if self.action_name == "deactivate"
            else accounts_services.staff_reactivate
        )
        user = service(actor=_principal(request), user=_member(request, pk))
        return Response(s.UserSerializer(user).data)


class InvitationListView(ApiView):
    required_scopes = {"GET": "staff:read", "POST": "staff:write"}

    @extend_schema(
        parameters=CURSOR_PARAMS,
        responses=s.page_of(s.InvitationSerializer, "InvitationPage"),
        operation_id="invitations_list",
        summary="Pending invitations",
    )
    def get(self, request):
        _require_staff_manager(request)
        rows = accounts_selectors.pending_invitations()
        found, cursor = keyset_page(
            rows, params=request.query_params, fields=["id"], descending=False,
            list_name="invitations",
        )  # fmt: skip
        return Response(paged(request, s.InvitationSerializer(found, many=True).data, cursor))

    @extend_schema(
        request=s.InviteSerializer,
        responses={201: s.InviteResultSerializer},
        parameters=[IDEMPOTENCY_PARAM],
        summary="Invite people (in bulk)",
    )
    @idempotent
    def post(self, request):
        data = s.InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = accounts_services.staff_invite(
            actor=_principal(request),
            emails=[email.lower() for email in data.validated_data["emails"]],
            role=data.validated_data["role"],
        )
        return Response(
            {
                "invited": s.InvitationSerializer(result.invited, many=True).data,
                "skipped": {email: str(why) for email, why in result.skipped.items()},
            },
            status=201,
        )


@extend_schema(parameters=[INVITATION_ID])
class InvitationActionView(ApiView):
    required_scopes = {"POST": "staff:write"}
    action_name = ""

    @extend_schema(request=None, responses=s.InvitationSerializer, parameters=[IDEMPOTENCY_PARAM])
    @idempotent
    def post(self, request, pk):
        _require_staff_manager(request)
        invitation = accounts_selectors.pending_invitations().filter(pk=_int_id(pk)).first()
        if invitation is None:
            raise _not_found()
        service = (
            accounts_services.invitation_resend
            if self.action_name == "resend"
            else accounts_services.invitation_revoke
        )
        invitation = service(actor=_principal(request), invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


# --- documents -----------------------------------------------------------------------

MULTIPART_SLACK_BYTES = 64 * 1024


def _document_id(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise _not_found() from None


def _document_call(call, **kwargs):
    try:
        return call(**kwargs)
    except uploads_services.StorageUnavailable:
        raise Problem(
            "storage-unavailable",
            _("Document storage is unavailable at the moment. Please try again in a few minutes."),
            retry_after=60,
        ) from None
    except Exception as exc:
        if type(exc).__name__ == "DoesNotExist":
            raise _not_found() from None
        raise


class DocumentListView(ApiView):
    required_scopes = {"GET": "documents:read", "POST": "documents:write"}
    parser_classes = [MultiPartParser]

    @extend_schema(
        parameters=[STATE_PARAM, *CURSOR_PARAMS],
        responses=s.page_of(s.DocumentSerializer, "DocumentPage"),
        operation_id="documents_list",
        summary="Documents, newest first",
    )
    def get(self, request):
        params = request.query_params
        state = params.get("state")
        if state is not None and state not in s.DOCUMENT_STATES:
            raise Problem("validation", _("Unknown state."), errors=[f"state: {state[:20]}"])
        uploads_services_member_check(request)
        if state == "deleted":
            if not accounts_selectors.is_workspace_admin(_principal(request)):
                raise Problem("forbidden", _("Only owners and admins see deleted documents."))
            rows = uploads_selectors.recently_deleted()
        else:
            rows = uploads_selectors.visible_documents()
            if state:
                rows = rows.filter(state=state)
        found, cursor = keyset_page(
            rows, params=params, fields=["created_at", "id"], list_name="documents"
        )
        return Response(paged(request, [s.document_json(d) for d in found], cursor))

    @extend_schema(
        request={"multipart/form-data": s.DocumentUploadSerializer},
        responses={202: s.DocumentSerializer},
        parameters=[IDEMPOTENCY_PARAM],
        summary="Upload a document: quarantined, then scanned (202)",
    )
    def post(self, request):
        # Limits before a byte of the body is read: the per-file maximum and the quota.
        upload_limits = uploads_selectors.upload_limits(tenant=current_tenant())
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length - MULTIPART_SLACK_BYTES > min(
            upload_limits.max_file_bytes, upload_limits.quota_left_bytes
        ):
            raise Problem(
                "too-large", _("This upload is larger than the file limit or the quota left.")
            )
        request._request.upload_handlers = [
            QuarantineUploadHandler(
                request._request,
                max_file_bytes=upload_limits.max_file_bytes,
                quota_left_bytes=upload_limits.quota_left_bytes,
            )
        ]
        return self._receive(request)

    @idempotent
    def _receive(self, request):
        try:
            files = request.FILES.getlist("file")
            if getattr(request._request, "upload_storage_error", False):
                raise Problem(
                    "storage-unavailable",
                    _("Document storage is unavailable at the moment, so nothing was saved."),
                    retry_after=60,
                )
            rejection = getattr(request._request, "upload_rejection", "")
            if rejection:
                raise Problem("too-large", rejection)
            if len(files) != 1:
                raise Problem(
                    "validation",
                    _("Send exactly one file, in the multipart field “file”."),
                    errors=["file: required"],
                )
            upload = files[0]
            try:
                document = _document_call(
                    uploads_services.document_upload,
                    actor=_principal(request),
                    name=upload.name or "document",
                    path=upload.temporary_file_path(),
                    size=upload.size,
                    sha256=getattr(upload, "sha256", ""),
                    client_content_type=upload.content_type or "",
                )
            except uploads_services.UploadRejected as exc:
                raise Problem("too-large", " ".join(exc.messages)) from None
        finally:
            for upload in request.FILES.getlist("file"):
                upload.close()
        response = Response(s.document_json(document), status=202)
        response["Location"] = request.build_absolute_uri(f"{request.path}{document.pk}/")
        return response


def uploads_services_member_check(request) -> None:
    """Listing is for members of the workspace (any role), as on the page."""
    if not getattr(_principal(request).acting_user, "is_active", False):
        raise Problem("forbidden", _("You have no role in this workspace."))


def _document(pk, *, deleted_too: bool = False):
    rows = uploads_selectors.visible_documents()
    document = rows.filter(pk=_document_id(pk)).first()
    if document is None and deleted_too:
        document = uploads_selectors.recently_deleted().filter(pk=_document_id(pk)).first()
    if document is None:
        raise _not_found()
    return document


@extend_schema(parameters=[DOCUMENT_ID])
class DocumentDetailView(ApiView):
    required_scopes = {"GET": "documents:read", "PATCH": "documents:write",
                       "DELETE": "documents:write"}  # fmt: skip

    @extend_schema(responses=s.DocumentSerializer, summary="One document")
    def get(self, request, pk):
        uploads_services_member_check(request)
        return Response(s.document_json(_document(pk)))

    @extend_schema(
        request=s.DocumentRenameSerializer, responses=s.DocumentSerializer, summary="Rename"
    )
    def patch(self, request, pk):
        data = s.DocumentRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = _document_call(
            uploads_services.document_rename,
            actor=_principal(request),
            document_id=_document(pk).pk,
            name=data.validated_data["name"],
        )
        return Response(s.document_json(document))

    @extend_schema(
        request=None, responses={200: s.DocumentSerializer}, summary="Delete (restorable)"
    )
    def delete(self, request, pk):
        document = _document_call(
            uploads_services.document_delete,
            actor=_principal(request),
            document_id=_document(pk).pk,
        )
        return Response(s.document_json(document))


@extend_schema(parameters=[DOCUMENT_ID])
class DocumentRestoreView(ApiView):
    required_scopes = {"POST": "documents:write"}

    @extend_schema(request=None, responses=s.DocumentSerializer, parameters=[IDEMPOTENCY_PARAM])
    @idempotent
    def post(self, request, pk):
        document = _document_call(
            uploads_services.document_restore,
            actor=_principal(request),
            document_id=_document(pk, deleted_too=True).pk,
        )
        return Response(s.document_json(document))


@extend_schema(parameters=[DOCUMENT_ID])
class DocumentDownloadView(ApiView):
    required_scopes = {"GET": "documents:read"}

    @extend_schema(
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="the file"),
            302: OpenApiResponse(description="a short-lived presigned URL (S3)"),
        },
        summary="Download: only once scanned clean",
    )
    def get(self, request, pk):
        try:
            ticket = _document_call(
                uploads_services.document_download,
                actor=_principal(request),
                document_id=_document(pk).pk,  # deleted: 404, as for the document itself
            )
        except uploads_services.DocumentNotAvailable:
            raise Problem(
                "not-available", _("This document is not available for download.")
            ) from None
        if ticket.url:
            response = HttpResponseRedirect(ticket.url)
            response["Cache-Control"] = "no-store"
            return response
        response = FileResponse(ticket.open(), content_type=ticket.document.content_type)
        response["Content-Disposition"] = ticket.disposition
        response["Content-Length"] = str(ticket.document.size)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response


# --- audit log -----------------------------------------------------------------------

AUDIT_PARAMS = [
    OpenApiParameter("actor", TEXT, description="actor id, or part of its name"),
    OpenApiParameter("action", TEXT, description="an action, or a group such as auth"),
    OpenApiParameter("target", TEXT, description="target id, or part of its name"),
    OpenApiParameter("since", date, description="from this day (inclusive)"),
    OpenApiParameter("until", date, description="to this day (inclusive)"),
]


def _event_filter(params) -> audit_selectors.EventFilter:
    errors = []
    days = {}
    for name in ("since", "until"):
        raw = params.get(name)
        try:
            days[name] = date.fromisoformat(raw) if raw is not None else None
        except ValueError:
            errors.append(f"{name}: YYYY-MM-DD")
    word = params.get("action", "").strip()[:100]
    actions = tuple(registry.matching(word)) if word else ()
    # A word the registry does not know is kept as the action itself: no event matches it.
    unknown = word if word and not actions else ""
    if errors:
        raise Problem("validation", _("Some filters are not valid."), errors=errors)
    return audit_selectors.EventFilter(
        actor=params.get("actor", "").strip()[:255],
        action=unknown,
        actions=actions,
        target=params.get("target", "").strip()[:255],
        since=days.get("since"),
        until=days.get("until"),
    )


class AuditEventListView(ApiView):
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        parameters=[*AUDIT_PARAMS, *CURSOR_PARAMS],
        responses=s.page_of(s.AuditEventSerializer, "AuditEventPage"),
        operation_id="audit_events_list",
        summary="The workspace's audit log, newest first",
    )
    def get(self, request):
        events = audit_selectors.tenant_events(
            tenant=current_workspace(), user=_principal(request),
            filters=_event_filter(request.query_params),
        )  # fmt: skip
        found, cursor = keyset_page(
            events, params=request.query_params, fields=["id"], list_name="audit"
        )
        return Response(paged(request, s.AuditEventSerializer(found, many=True).data, cursor))


class AuditExportView(ApiView):
    required_scopes = {"GET": "audit:read"}

    @extend_schema(
        parameters=AUDIT_PARAMS,
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="one event per line"
            )
        },
        summary="Export the audit log as JSON Lines (streamed)",
    )
    def get(self, request):
        filters = _event_filter(request.query_params)
        principal = _principal(request)
        events = audit_selectors.tenant_events(
            tenant=current_workspace(), user=principal, filters=filters
        )
        audit_services.export_recorded(actor=principal, fmt="jsonl", filters=filters)
        response = StreamingHttpResponse(
            audit_selectors.export_jsonl(events, language=get_language()),
            content_type="application/x-ndjson; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="audit.jsonl"'
        return response
