"""URLs of the public site (BASE_DOMAIN): landing, signup, find my workspace."""

from django.urls import path

from signup import views

handler404 = "signup.views.not_found"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("find-workspace/", views.find_workspace, name="find_workspace"),
]
