"""The API's URLs on a workspace host (``config.urls_tenant`` mounts them; the public
host has none of them, so ``/o/`` and ``/api/`` are 404 there): ``api_urls`` under
``/api/`` (namespace ``api``), ``oauth_urls`` under ``/o/`` (namespace ``oauth2_provider``,
as django-oauth-toolkit expects) and ``page_urls`` (namespace ``api_pages``)."""

from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import pages, views

v1 = [
    path("me", views.MeView.as_view(), name="me"),
    path("workspace", views.WorkspaceView.as_view(), name="workspace"),
    path("staff/", views.StaffListView.as_view(), name="staff-list"),
    path("staff/<str:pk>/", views.StaffDetailView.as_view(), name="staff-detail"),
    path("staff/<str:pk>/role", views.StaffRoleView.as_view(), name="staff-role"),
    path("staff/<str:pk>/deactivate", views.StaffStatusView.as_view(action_name="deactivate"),
         name="staff-deactivate"),
    path("staff/<str:pk>/reactivate", views.StaffStatusView.as_view(action_name="reactivate"),
         name="staff-reactivate"),
    path("invitations/", views.InvitationListView.as_view(), name="invitation-list"),
    path("invitations/<str:pk>/resend", views.InvitationActionView.as_view(action_name="resend"),
         name="invitation-resend"),
    path("invitations/<str:pk>/revoke", views.InvitationActionView.as_view(action_name="revoke"),
         name="invitation-revoke"),
    path("documents/", views.DocumentListView.as_view(), name="document-list"),
    path("documents/<str:pk>/", views.DocumentDetailView.as_view(), name="document-detail"),
    path("documents/<str:pk>/restore", views.DocumentRestoreView.as_view(),
         name="document-restore"),
    path("documents/<str:pk>/download", views.DocumentDownloadView.as_view(),
         name="document-download"),
    path("audit-events/", views.AuditEventListView.as_view(), name="audit-event-list"),
    path("audit-events/export", views.AuditExportView.as_view(), name="audit-event-export"),
]  # fmt: skip


def _oauth_view(name: str, *, csrf: bool = True):
    """django-oauth-toolkit's views import jwcrypto and cryptography (``api.lazy``):
    imported by the first request to ``/o/``, not when the URLs load."""
    view = None

    def dispatch(request, *args, **kwargs):
        nonlocal view
        if view is None:
            from . import oauth

            view = getattr(oauth, name).as_view()
        return view(request, *args, **kwargs)

    return dispatch if csrf else csrf_exempt(dispatch)


oauth_urls = [
    path("authorize/", _oauth_view("ConsentView"), name="authorize"),
    # Clients authenticate with their credentials, not a session: no CSRF (as DOT's own).
    path("token/", _oauth_view("LimitedTokenView", csrf=False), name="token"),
    path("revoke_token/", _oauth_view("LimitedRevokeTokenView", csrf=False),
         name="revoke-token"),
]  # fmt: skip

api_urls = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
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
