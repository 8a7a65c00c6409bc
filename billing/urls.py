"""Billing's URLs: ``public_urlpatterns`` on the public site, ``urlpatterns`` in a workspace."""

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("settings/billing/", views.billing_page, name="page"),
    path("settings/billing/card/", views.card_page, name="card"),
]

public_urlpatterns = [
    path("billing/webhook/", views.webhook, name="webhook"),
    path("pricing/", views.pricing, name="pricing"),
]
