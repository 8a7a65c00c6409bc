"""URLs of a workspace (<slug>.BASE_DOMAIN)."""

from django.urls import include, path

from . import dashboard

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("", include("accounts.urls")),
    path("", include("uploads.urls")),
    path("audit/", include("audit.urls")),
]
