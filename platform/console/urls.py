"""The console's URLs, mounted at ``/console/`` on the public host only
(``config/urls_public.py``)."""

from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("login/enrol/", views.enrol, name="enrol"),
    path("login/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("logout/", views.logout_view, name="logout"),
    path("invite/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("w/<int:pk>/", views.workspace, name="workspace"),
    path("w/<int:pk>/billing/<slug:action>/", views.workspace_billing, name="workspace_billing"),
    path("w/<int:pk>/move/", views.workspace_move, name="workspace_move"),
    path("w/<int:pk>/<slug:action>/", views.workspace_action, name="workspace_action"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:pk>/<slug:action>/", views.staff_action, name="staff_action"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/revoke/", views.session_revoke, name="session_revoke"),
    path("sessions/revoke-others/", views.sessions_revoke_others, name="sessions_revoke_others"),
]
