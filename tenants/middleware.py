"""Tenant routing: picks the schema and URLConf from the Host header before any view runs."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import set_urlconf
from django.utils.translation import gettext as _
from django_tenants.middleware.main import TenantMainMiddleware

from .models import Tenant
from .routing import resolve_host


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, with the domain lookup served from ``tenants.routing``.

    Stock, it costs three statements per request (SET search_path, the domain
    query, SET search_path again). Here a cache hit costs none, and the one
    ``SET search_path`` is issued lazily by the first query of the view.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        try:
            hostname = request.get_host().split(":")[0].lower()
        except DisallowedHost:
            return self._public_page(request, "public/404.html", 404)
        request.tenant = None
        if hostname in (settings.BASE_DOMAIN, f"www.{settings.BASE_DOMAIN}"):
            connection.set_schema_to_public()
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
        connection.set_tenant(tenant)
        self._use_urlconf(request, settings.ROOT_URLCONF)
        return None

    @staticmethod
    def _use_urlconf(request: HttpRequest, urlconf: str) -> None:
        request.urlconf = urlconf
        set_urlconf(urlconf)

    def _public_page(self, request: HttpRequest, template: str, status: int) -> HttpResponse:
        connection.set_schema_to_public()
        self._use_urlconf(request, settings.PUBLIC_SCHEMA_URLCONF)
        return render(request, template, status=status)

    def _unavailable(self, request: HttpRequest, route) -> HttpResponse:
        connection.set_schema_to_public()
        self._use_urlconf(request, settings.PUBLIC_SCHEMA_URLCONF)
        messages = {
            Tenant.State.PROVISIONING: _("This workspace is being set up. Try again in a moment."),
            Tenant.State.SUSPENDED: _(
                "This workspace is suspended. Its owner can contact support to restore it."
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
