"""Workspace pages of the audit log: the admins' log with filters and exports, and
every member's own activity. The views parse requests; selectors check permissions."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from core.workspace import current as current_workspace
from core.workspace import current_row

from . import selectors
from .forms import EventFilterForm
from .services import export_recorded

# The export formats the URLconf accepts: how each is written and served.
_EXPORTS = {
    "csv": (selectors.export_csv, "text/csv; charset=utf-8"),
    "jsonl": (selectors.export_jsonl, "application/x-ndjson; charset=utf-8"),
}


def _before(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() else None


def _query_without_before(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("before", None)
    return query.urlencode()


def _events_page(request: HttpRequest, template: str, select) -> HttpResponse:
    form = EventFilterForm(request.GET or None)
    events = select(tenant=current_workspace(), user=request.principal, filters=form.to_filter())
    rows, next_before = selectors.page(events, before=_before(request))
    return render(request, template, {
        "form": form, "events": rows, "next_before": next_before,
        "query": _query_without_before(request),
        "filtered": any(request.GET.get(name) for name in form.fields),
    })  # fmt: skip


@require_GET
@login_required
def log(request: HttpRequest) -> HttpResponse:
    return _events_page(request, "audit/log.html", selectors.tenant_events)


@require_GET
@login_required
def my_activity(request: HttpRequest) -> HttpResponse:
    return _events_page(request, "audit/mine.html", selectors.my_events)


@require_GET
@login_required
def detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_detail(
        tenant=current_workspace(), user=request.principal, event_id=event_id
    )
    return render(request, "audit/detail.html", {"event": event})


@require_GET
@login_required
def export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    form = EventFilterForm(request.GET or None)
    filters = form.to_filter()
    workspace = current_workspace()
    events = selectors.tenant_events(tenant=workspace, user=request.principal, filters=filters)
    export_recorded(actor=request.principal, fmt=fmt, filters=filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    stream, content_type = _EXPORTS[fmt]
    response = StreamingHttpResponse(
        stream(events, language=get_language()), content_type=content_type
    )
    row = current_row()
    name = f"audit-{row.slug if row else workspace.schema_name}-{stamp}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
