"""Tenant routing: picks the schema and URLConf from the Host header before any view runs."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import set_urlconf
from django.utils.translation import gettext as _
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .models import Tenant
from .routing import resolve_host


def _activate(tenant: Tenant) -> None:
    """Point the connection at ``tenant``'s schema, re-using a search_path already in force.

    ``set_tenant`` forgets the connection's search_path, so every request would
    re-issue ``SET search_path`` and empty the ContentType cache even when the
    worker's previous request was for the same schema. When the schema is
    unchanged we keep the backend's record instead. That record is only ever
    the schema really in force: the backend clears it when the connection is
    closed or a transaction or savepoint is rolled back (which reverts a
    ``SET``), and then the next query sets the path again. A different schema
    always goes through ``set_tenant``. With ``DATABASE_POOLING=transaction`` the
    backend keeps no session path and sets it in every transaction anyway; this then
    only spares the ContentType cache.
    """
    if connection.schema_name == tenant.schema_name and connection.include_public_schema:
        connection.tenant = tenant
        return
    connection.set_tenant(tenant)


def _activate_public() -> None:
    if connection.schema_name == get_public_schema_name():
        return
    connection.set_schema_to_public()


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})


def _host_and_port(request: HttpRequest) -> tuple[str, str]:
    host = request.META.get("HTTP_HOST", "").lower()
    name, _sep, port = host.rpartition(":")
    return (name, port) if port.isdigit() else (host, "")


def _is_loopback_address(request: HttpRequest) -> bool:
    return _host_and_port(request)[0] in _LOOPBACK_HOSTS


def _to_public_site(request: HttpRequest) -> HttpResponse:
    """In development, ``http://127.0.0.1:8000/`` (what people type) goes to the public
    site on the same port: workspaces need a name under ``BASE_DOMAIN`` to be found."""
    port = _host_and_port(request)[1]
    netloc = f"{settings.BASE_DOMAIN}:{port}" if port else settings.BASE_DOMAIN
    return HttpResponseRedirect(f"{request.scheme}://{netloc}{request.get_full_path()}")


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, with the domain lookup served from ``tenants.routing``.

    Stock, it costs three statements per request (SET search_path, the domain
    query, SET search_path again). Here a cache hit costs none, and the one
    ``SET search_path`` is issued lazily by the first query of the view, and
    only when the connection is not already on that schema (see ``_activate``).
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            hostname = request.get_host().split(":")[0].lower()
        except DisallowedHost:
            if settings.DEBUG and _is_loopback_address(request):
                return _to_public_site(request)
            return self._public_page(request, "public/404.html", 404)
        request.tenant = None
        if hostname in (settings.BASE_DOMAIN, f"www.{settings.BASE_DOMAIN}"):
            _activate_public()
            self._use_urlconf(request, settings.PUBLIC_SCHEMA_URLCONF)
            return None

        route = resolve_host(hostname)
        if route is None:
            return self._public_page(request, "public/404.html", 404)
        if route.state != Tenant.State.ACTIVE:
            return self._unavailable(request, route)

        tenant = route.as_tenant()
        tenant.domain_url = hostname
        request.tenant = tenant
        _activate(tenant)
        self._use_urlconf(request, settings.ROOT_URLCONF)
        return None

    @staticmethod
    def _use_urlconf(request: HttpRequest, urlconf: str) -> None:
        request.urlconf = urlconf
        set_urlconf(urlconf)

    def _public_page(self, request: HttpRequest, template: str, status: int) -> HttpResponse:
        _activate_public()
        self._use_urlconf(request, settings.PUBLIC_SCHEMA_URLCONF)
        return render(request, template, status=status)

    def _unavailable(self, request: HttpRequest, route) -> HttpResponse:
        _activate_public()
        self._use_urlconf(request, settings.PUBLIC_SCHEMA_URLCONF)
        messages = {
            Tenant.State.PROVISIONING: _("This workspace is being set up. Try again in a moment."),
            Tenant.State.SUSPENDED: _(
                "This workspace is suspended. Its owner can contact support to restore it."
            ),
            Tenant.State.SCHEDULED_FOR_DELETION: _(
                "This workspace is scheduled for deletion and is no longer available. "
                "Until it is deleted, its owner can contact support to restore it."
            ),
        }
        message = messages.get(route.state, _("This workspace is no longer available."))
        status = 503 if route.state == Tenant.State.PROVISIONING else 403
        response = render(
            request,
            "public/unavailable.html",
            {"workspace_name": route.name, "message": message},
            status=status,
        )
        if status == 503:
            response["Retry-After"] = "5"
        return response
