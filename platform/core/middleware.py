"""Binds where each request came from (``core.context``) and echoes its request id."""

from django.conf import settings
from django.http import HttpRequest

from . import context


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or the first address of the header named by
    ``AUDIT_CLIENT_IP_HEADER`` (set it only when a trusted proxy always writes that header).

    The one client address of the project: rate limits, session rows and the audit log agree.
    """
    header = getattr(settings, "AUDIT_CLIENT_IP_HEADER", "")
    raw = request.META.get(header, "") if header else ""
    return context.clean_ip(raw.split(",")[0].strip() or request.META.get("REMOTE_ADDR", ""))


class RequestContextMiddleware:
    """Early in the chain: everything after it (auth signals included) sees the context."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request_id = context.clean_request_id(request.headers.get("X-Request-ID"))
        ctx = context.RequestContext(
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=request_id,
        )
        with context.bind(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
