"""URLs of a workspace (<slug>.BASE_DOMAIN)."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("uploads.urls")),
    path("audit/", include("audit.urls")),
]
