"""URLs of the public site (BASE_DOMAIN): landing, signup, find my workspace, and the
vendor console (``/console/``, public host only)."""

from django.urls import include, path

from billing.urls import public_urlpatterns as billing_public
from signup import views

handler400 = "core.error_pages.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "signup.views.not_found"
handler500 = "core.error_pages.server_error"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("find-workspace/", views.find_workspace, name="find_workspace"),
    path("console/support/", include("support.urls_console")),
    path("console/", include("console.urls")),
    path("console/offboarding/", include("offboarding.urls_console")),
    path("", include((billing_public, "billing"))),
]
