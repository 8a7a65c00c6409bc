"""The API's URLs on a workspace host (``config.urls_tenant`` mounts them; the public
host has none of them, so ``/o/`` and ``/api/`` are 404 there): ``api_urls`` under
``/api/`` (namespace ``api``), ``oauth_urls`` under ``/o/`` (namespace ``oauth2_provider``,
as django-oauth-toolkit expects) and ``page_urls`` (namespace ``api_pages``)."""

from importlib import import_module

from django.urls import include, path

from . import pages


class _LazyView:
    """A view whose module is imported by its first request, not when the URLs load, so
    that processes which never serve it do not carry it: django-oauth-toolkit's views
    import jwcrypto and cryptography (``api.lazy``); DRF and the API's views cost about
    17 MB, drf-spectacular's import DRF's test client and with it ``django.test``
    (bench/uploads.py). Django has no lazy ``include()``, hence this small class."""

    def __init__(self, module: str, name: str, *, csrf: bool, initkwargs: dict) -> None:
        self._module, self._name, self._initkwargs = module, name, initkwargs
        self._view = None
        self.csrf_exempt = not csrf  # read by CsrfViewMiddleware

    def __call__(self, request, *args, **kwargs):
        return self.load()(request, *args, **kwargs)

    def load(self):
        if self._view is None:
            view_class = getattr(import_module(self._module), self._name)
            self._view = view_class.as_view(**self._initkwargs)
        return self._view

    def __getattr__(self, attr: str):
        # What schema generators read from a DRF view (drf-spectacular's enumerator).
        if attr in ("cls", "initkwargs"):
            return getattr(self.load(), attr)
        raise AttributeError(attr)


def _lazy_view(module: str, name: str, *, csrf: bool = True, **initkwargs) -> _LazyView:
    return _LazyView(module, name, csrf=csrf, initkwargs=initkwargs)


def _oauth_view(name: str, *, csrf: bool = True):
    return _lazy_view("api.oauth", name, csrf=csrf)


def _schema_view(name: str, **initkwargs):
    # DRF's own views are CSRF-exempt (they authenticate per request).
    return _lazy_view("drf_spectacular.views", name, csrf=False, **initkwargs)


def _api_view(name: str, **initkwargs):
    # DRF and the API's views cost about 17 MB: a web process loads them with its first
    # API request. DRF's views are CSRF-exempt (they authenticate per request).
    return _lazy_view("api.views", name, csrf=False, **initkwargs)


v1 = [
    path("me", _api_view("MeView"), name="me"),
    path("workspace", _api_view("WorkspaceView"), name="workspace"),
    path("staff/", _api_view("StaffListView"), name="staff-list"),
    path("staff/<str:pk>/", _api_view("StaffDetailView"), name="staff-detail"),
    path("staff/<str:pk>/role", _api_view("StaffRoleView"), name="staff-role"),
    path("staff/<str:pk>/deactivate", _api_view("StaffStatusView", action_name="deactivate"),
         name="staff-deactivate"),
    path("staff/<str:pk>/reactivate", _api_view("StaffStatusView", action_name="reactivate"),
         name="staff-reactivate"),
    path("invitations/", _api_view("InvitationListView"), name="invitation-list"),
    path("invitations/<str:pk>/resend", _api_view("InvitationActionView", action_name="resend"),
         name="invitation-resend"),
    path("invitations/<str:pk>/revoke", _api_view("InvitationActionView", action_name="revoke"),
         name="invitation-revoke"),
    path("documents/", _api_view("DocumentListView"), name="document-list"),
    path("documents/<str:pk>/", _api_view("DocumentDetailView"), name="document-detail"),
    path("documents/<str:pk>/restore", _api_view("DocumentRestoreView"), name="document-restore"),
    path("documents/<str:pk>/download", _api_view("DocumentDownloadView"),
         name="document-download"),
    path("audit-events/", _api_view("AuditEventListView"), name="audit-event-list"),
    path("audit-events/export", _api_view("AuditExportView"), name="audit-event-export"),
]  # fmt: skip

oauth_urls = [
    path("authorize/", _oauth_view("ConsentView"), name="authorize"),
    # Clients authenticate with their credentials, not a session: no CSRF (as DOT's own).
    path("token/", _oauth_view("LimitedTokenView", csrf=False), name="token"),
    path("revoke_token/", _oauth_view("LimitedRevokeTokenView", csrf=False),
         name="revoke-token"),
]  # fmt: skip

api_urls = [
    path("v1/", include(v1)),
    path("schema/", _schema_view("SpectacularAPIView"), name="schema"),
    path("docs/", _schema_view("SpectacularSwaggerView", url_name="api:schema"), name="docs"),
    path("redoc/", _schema_view("SpectacularRedocView", url_name="api:schema"), name="redoc"),
]

page_urls = (
    [
        path("settings/integrations/", pages.integrations, name="integrations"),
        path("settings/integrations/<int:app_id>/rotate/", pages.app_rotate, name="app_rotate"),
        path("settings/integrations/<int:app_id>/revoke/", pages.app_revoke, name="app_revoke"),
        path("account/apps/", pages.my_apps, name="my_apps"),
        path("account/apps/<int:app_id>/revoke/", pages.my_app_revoke, name="my_app_revoke"),
    ],
    "api_pages",
)
