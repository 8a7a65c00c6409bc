"""Binds where each request came from (``core.context``) and echoes its request id."""

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

from . import context


@functools.lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(getattr(settings, "AUDIT_TRUSTED_PROXIES", "")))


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as the audit log, django-axes and the rate limits see it.

    ``REMOTE_ADDR``, unless the peer is a trusted proxy (``AUDIT_TRUSTED_PROXIES``) and
    sent the header named by ``AUDIT_CLIENT_IP_HEADER``: then the nearest address in it
    that is not a trusted proxy. A header from anyone else is ignored, so a client
    cannot choose the address it is logged, counted and locked out under.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    header = getattr(settings, "AUDIT_CLIENT_IP_HEADER", "")
    if header and _trusted(remote):
        for hop in reversed(request.META.get(header, "").split(",")):
            hop = hop.strip()
            if context.clean_ip(hop) is None:
                break  # garbage: trust nothing further along
            remote = hop
            if not _trusted(hop):
                break
    return context.clean_ip(remote)


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
