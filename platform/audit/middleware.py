"""Binds the audit context of each request: actor, impersonator, ip, user agent, request id."""

from django.http import HttpRequest

from . import context


class AuditContextMiddleware:
    """Place after AuthenticationMiddleware."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request_id = request.headers.get("X-Request-ID", "")[:64] or context.new_request_id()
        ctx = context.AuditContext(
            actor=context.actor_for_user(getattr(request, "user", None)),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=request_id,
        )
        with context.bind(ctx):
            request.audit_context = ctx
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
