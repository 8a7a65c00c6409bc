"""URLConf of the bench site (used as both the tenant and the public URLConf)."""

from django.urls import path

from .views import count_users

urlpatterns = [path("", count_users)]
