"""The first middleware: health endpoints and metrics before anything else, then, for
every other request, its request id, log context, Sentry tags, one JSON log line and
its metrics."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import sys
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.workspace import current as current_workspace

from . import logs, metrics

request_logger = logging.getLogger(logs.REQUEST_LOGGER)

# Answered on any host: a kubelet probes by pod ip, a load balancer by anything.
PROBES = {"/healthz/live": "live", "/healthz/ready": "ready"}
# Answered only on an internal host (an ip address or OPS_INTERNAL_HOSTS): never
# through a workspace or the public host.
INTERNAL = {"/healthz/deep": "deep", "/metrics": "metrics"}


def _endpoint(name: str):
    """The view of a probe or of ``/metrics``. ``config.health`` is imported on the first
    probe, not at start-up: django-health-check pulls in dnspython (~3.6 MB a process),
    and the web process must stay under its memory line (bench/uploads.py)."""
    if name == "metrics":
        return metrics.metrics_view
    from . import health

    return getattr(health, name)


def _sentry_scope():
    """A Sentry scope for the request when Sentry is in use, else nothing. sentry_sdk is
    imported only by ``init_sentry`` (``SENTRY_DSN`` set): without it, ~3.9 MB saved."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None or not sentry_sdk.get_client().is_active():
        return None
    return sentry_sdk.new_scope()


def is_internal_host(request: HttpRequest) -> bool:
    """The raw Host header (not validated: this runs before ``ALLOWED_HOSTS``) names an
    ip address or one of ``OPS_INTERNAL_HOSTS``."""
    host = (request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")).lower()
    if host.startswith("["):  # [v6 address]:port
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:  # name or v4 address with a port
        host = host.split(":", 1)[0]
    if host in settings.OPS_INTERNAL_HOSTS:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _workspace(request: HttpRequest) -> str:
    """The schema name of the request's workspace ("" on the public site, and before
    routing has run: until then the connection still holds the last request's schema)."""
    if not hasattr(request, "tenant"):
        return ""
    workspace = current_workspace()
    return "" if workspace.is_public else workspace.schema_name


def _actor(request: HttpRequest) -> str:
    """``type:id`` of the request's principal (and ``+type:id`` of who really acted, in
    a support session or for an app); never an email."""
    principal = getattr(request, "principal", None)
    if principal is None:
        return ""
    actor, behind = principal.audit_actor, principal.audit_impersonator
    text = f"{actor.type}:{actor.id}" if actor.id else actor.type
    return f"{text}+{behind.type}:{behind.id}" if behind is not None else text


class OpsMiddleware:
    """Place first in ``MIDDLEWARE``."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/") or "/"
        probe = PROBES.get(path)
        if probe is not None:
            return _endpoint(probe)(request)
        internal = INTERNAL.get(path)
        if internal is not None and is_internal_host(request):
            return _endpoint(internal)(request)
        return self._serve(request)

    def _serve(self, request: HttpRequest) -> HttpResponse:
        from core.context import clean_request_id

        started = time.perf_counter()
        # core's RequestContextMiddleware reads the same header: one id for logs, audit
        # and Sentry.
        request_id = clean_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.META["HTTP_X_REQUEST_ID"] = request_id
        token = logs.activate(
            request_id=request_id,
            workspace="",
            actor="",
            lookup=lambda: (_workspace(request), _actor(request)),
        )
        try:
            scope_manager = _sentry_scope()
            with scope_manager or contextlib.nullcontext() as scope:
                if scope is not None:
                    scope.set_tag("request_id", request_id)
                    scope.add_event_processor(_sentry_tags(request))
                response = self.get_response(request)
            seconds = time.perf_counter() - started
            self._finish(request, response, request_id, seconds)
        finally:
            logs.deactivate(token)
        return response

    def _finish(self, request, response, request_id: str, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else "<unrouted>"
        logs.update(workspace=_workspace(request), actor=_actor(request))
        if not response.has_header("X-Request-ID"):
            response["X-Request-ID"] = request_id
        metrics.observe_request(
            view=view, method=request.method, status=response.status_code, seconds=seconds
        )
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        request_logger.log(
            level,
            "request",
            extra={
                "method": request.method,
                "path": logs.safe_path(request),
                "view": view,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


def _sentry_tags(request: HttpRequest):
    """An event processor: the workspace is known only once routing ran."""

    def processor(event: dict, hint: dict) -> dict:
        tags = event.setdefault("tags", {})
        tags["workspace"] = _workspace(request) or "public"
        return event

    return processor
