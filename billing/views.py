"""Billing's pages: the Stripe webhook and the pricing page (public site), the owners'
billing and card pages (a workspace). Views only call services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.decorators import role_required
from core.principal import system
from tenants.selectors import current_tenant

from . import selectors, services
from .gateway import GatewayError

STRIPE_WEBHOOK = system("stripe webhook")


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's deliveries: 200 once stored (or a duplicate), 400 when refused."""
    try:
        services.webhook_receive(
            actor=STRIPE_WEBHOOK,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except services.WebhookRefused as refused:
        return HttpResponseBadRequest(str(refused), content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/pricing.html", {"plans": selectors.public_plans()})


def _is_owner(principal) -> bool:
    user = getattr(principal, "acting_user", None)
    return bool(user is not None and user.is_active and getattr(user, "role", "") == "owner")


owner_required = role_required(_is_owner)


def _fail(request: HttpRequest, error: Exception) -> None:
    if isinstance(error, ValidationError):
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.error(request, str(error))


@owner_required
@require_http_methods(["GET", "POST"])
def billing_page(request: HttpRequest) -> HttpResponse:
    """Plan, period, seats, next invoice, card, invoices; change plan, cancel, resume."""
    actor = request.principal
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "change_plan":
                services.plan_change(
                    actor=actor,
                    plan_code=request.POST.get("plan", ""),
                    interval=request.POST.get("interval", ""),
                )
                messages.success(request, _("The plan was changed."))
            elif action == "cancel":
                services.subscription_cancel(actor=actor)
                messages.success(
                    request, _("The subscription ends with the current billing period.")
                )
            elif action == "resume":
                services.subscription_resume(actor=actor)
                messages.success(request, _("The subscription continues."))
            else:
                return HttpResponseBadRequest()
        except (ValidationError, GatewayError) as error:
            _fail(request, error)
        return redirect("billing:page")
    data = selectors.overview(services.account_ensure(tenant_id=current_tenant().pk))
    return render(request, "billing/billing.html", {"data": data, "account": data.account})


@owner_required
@require_http_methods(["GET", "POST"])
def card_page(request: HttpRequest) -> HttpResponse:
    """Enter a card with Stripe.js (a SetupIntent confirmed in the browser), then
    subscribe to the chosen plan or make it the card on file."""
    actor = request.principal
    account = selectors.account_of(current_tenant().pk)
    subscribed = bool(
        account and account.stripe_subscription_id and account.status != account.Status.CANCELED
    )
    if request.method == "POST":
        intent = request.POST.get("setup_intent", "")
        try:
            if subscribed:
                services.card_change(actor=actor, setup_intent_id=intent)
                messages.success(request, _("The card on file was changed."))
            else:
                services.subscription_start(
                    actor=actor,
                    plan_code=request.POST.get("plan", ""),
                    interval=request.POST.get("interval", ""),
                    setup_intent_id=intent,
                )
                messages.success(request, _("Thank you: the subscription is active."))
        except (ValidationError, GatewayError) as error:
            _fail(request, error)
            return redirect(request.get_full_path())
        except PermissionDenied:
            raise
        return redirect("billing:page")
    try:
        intent = services.card_setup_begin(actor=actor)
    except GatewayError as error:
        _fail(request, error)
        return redirect("billing:page")
    return render(
        request,
        "billing/card.html",
        {
            "subscribed": subscribed,
            "plans": selectors.public_plans(),
            "chosen_plan": request.GET.get("plan", "team"),
            "chosen_interval": request.GET.get("interval", "month"),
            "client_secret": intent["client_secret"],
            "publishable_key": selectors.publishable_key(),
            "stripe_js_url": selectors.stripe_js_url(),
        },
    )
