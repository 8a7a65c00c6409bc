"""Workspace pages of the audit log: the admins' log with filters and exports, and
every member's own activity. The views parse requests; selectors check permissions."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .forms import EventFilterForm
from .services import export_recorded


def _before(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() else None


def _query_without_before(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("before", None)
    return query.urlencode()


@require_GET
@login_required
def log(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET or None)
    events = selectors.tenant_events(
        tenant=request.tenant, user=request.user, filters=form.to_filter()
    )
    rows, next_before = selectors.page(events, before=_before(request))
    return render(request, "audit/log.html", {
        "form": form, "events": rows, "next_before": next_before,
        "query": _query_without_before(request),
    })  # fmt: skip


@require_GET
@login_required
def my_activity(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET or None)
    events = selectors.my_events(tenant=request.tenant, user=request.user, filters=form.to_filter())
    rows, next_before = selectors.page(events, before=_before(request))
    return render(request, "audit/mine.html", {
        "form": form, "events": rows, "next_before": next_before,
        "query": _query_without_before(request),
    })  # fmt: skip


@require_GET
@login_required
def detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_detail(tenant=request.tenant, user=request.user, event_id=event_id)
    return render(request, "audit/detail.html", {"event": event})


@require_GET
@login_required
def export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    form = EventFilterForm(request.GET or None)
    filters = form.to_filter()
    events = selectors.tenant_events(tenant=request.tenant, user=request.user, filters=filters)
    export_recorded(fmt=fmt, filters=filters)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response = StreamingHttpResponse(
            selectors.export_csv(events), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            selectors.export_jsonl(events), content_type="application/x-ndjson; charset=utf-8"
        )
    name = f"audit-{request.tenant.slug}-{stamp}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
