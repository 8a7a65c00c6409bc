"""URLs of the account pages on a workspace host."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import auth, me, staff

app_name = "accounts"

urlpatterns = [
    # Signing in and out
    path("accounts/login/", auth.SignInView.as_view(), name="login"),
    path("accounts/login/verify/", auth.login_verify, name="login_verify"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/welcome/<str:token>/", auth.handoff, name="handoff"),
    path("invite/<str:token>/", auth.accept_invitation, name="accept_invitation"),
    path("accounts/password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    # The signed-in user's own account
    path("account/", me.profile, name="profile"),
    path("account/password/", me.password_change, name="password_change"),
    path("account/email/", me.email_change, name="email_change"),
    path("account/email/confirm/<str:token>/", me.email_change_confirm,
         name="email_change_confirm"),
    path("account/2fa/", me.two_factor, name="two_factor"),
    path("account/2fa/setup/", me.two_factor_setup, name="two_factor_setup"),
    path("account/2fa/disable/", me.two_factor_disable, name="two_factor_disable"),
    path("account/2fa/recovery-codes/", me.recovery_codes_regenerate,
         name="recovery_codes_regenerate"),
    path("account/sessions/", me.sessions, name="sessions"),
    path("account/sessions/<int:pk>/revoke/", me.session_revoke, name="session_revoke"),
    path("account/sessions/revoke-others/", me.sessions_revoke_others,
         name="sessions_revoke_others"),
    # Staff management (owners and admins)
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/invite/", staff.staff_invite, name="staff_invite"),
    path("staff/invitations/<int:pk>/resend/", staff.invitation_resend, name="invitation_resend"),
    path("staff/invitations/<int:pk>/revoke/", staff.invitation_revoke, name="invitation_revoke"),
    path("staff/<int:pk>/", staff.staff_detail, name="staff_detail"),
    path("staff/<int:pk>/<slug:action>/", staff.staff_action, name="staff_action"),
    path("settings/security/", staff.workspace_security, name="workspace_security"),
]  # fmt: skip
