"""URLs of a workspace (<slug>.BASE_DOMAIN)."""

from django.urls import include, path

from api.urls import api_urls, oauth_urls
from api.urls import page_urls as api_page_urls

from . import dashboard

handler400 = "core.error_pages.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.not_found"
handler500 = "core.error_pages.server_error"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("", include("accounts.urls")),
    path("", include("uploads.urls")),
    path("audit/", include("audit.urls")),
    path("", include("support.urls")),
    path("", include("offboarding.urls")),
    path("", include("billing.urls")),
    # The integration API (/api/, /o/) and its pages; workspace hosts only.
    path("api/", include((api_urls, "api"))),
    path("o/", include((oauth_urls, "oauth2_provider"))),
    path("", include(api_page_urls)),
]
