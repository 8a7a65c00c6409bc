"""OAuth2 apps of a workspace: register, rotate the secret, revoke; a user's consent and
its withdrawal; the periodic cleanup of expired tokens. Each checks permission, makes
its change and records its audit event in one transaction.

Who may: workspace owners and admins manage apps (``accounts.selectors.is_workspace_admin``);
each user withdraws the apps they authorised. An app acting alone (client credentials)
gets a role no higher than its creator's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken, clear_expired

import audit.services as audit
from accounts.selectors import acting_user, is_workspace_admin
from core.principal import Principal, write_service

from .models import AppProfile
from .settings import ROLE_RANK, SCOPES

__all__ = [
    "GRANT_TYPES",
    "NewSecret",
    "app_authorize",
    "app_create",
    "app_revoke",
    "app_secret_rotate",
    "authorization_revoke",
    "tokens_clear_expired",
]

GRANT_TYPES = {
    Application.GRANT_AUTHORIZATION_CODE: "authorization_code",
    Application.GRANT_CLIENT_CREDENTIALS: "client_credentials",
}


@dataclass(frozen=True)
class NewSecret:
    """An app with its client secret in clear: shown once, never stored so."""

    application: Application
    client_secret: str


def _require_admin(actor: Principal):
    if not is_workspace_admin(actor):
        raise PermissionDenied(_("Only workspace owners and admins manage integrations."))
    if getattr(actor, "app_id", None):  # an app never manages apps
        raise PermissionDenied(_("Apps cannot manage apps."))
    return acting_user(actor)


def _target(app: Application) -> tuple[str, int, str]:
    return ("oauth2_provider.application", app.pk, app.name)


def _clean_scopes(scopes: list[str]) -> list[str]:
    chosen = [scope for scope in SCOPES if scope in set(scopes)]
    unknown = set(scopes) - set(SCOPES)
    if unknown or not chosen:
        raise ValidationError(_("Choose at least one of the listed scopes."), code="scopes")
    return chosen


@write_service
def app_create(
    *,
    actor: Principal,
    name: str,
    grant_type: str,
    scopes: list[str],
    redirect_uris: str = "",
    role: str = AppProfile.Role.READONLY,
) -> NewSecret:
    """Register an app: ``authorization-code`` (acts for each user who consents, PKCE
    required, confidential) or ``client-credentials`` (acts alone, with ``role``)."""
    creator = _require_admin(actor)
    name = " ".join(name.split())[:255]
    if not name:
        raise ValidationError(_("Give the app a name."), code="name")
    if grant_type not in GRANT_TYPES:
        raise ValidationError(_("Choose how the app gets its tokens."), code="grant_type")
    chosen = _clean_scopes(scopes)
    uris = " ".join(redirect_uris.split())
    if grant_type == Application.GRANT_AUTHORIZATION_CODE and not uris:
        raise ValidationError(_("An app acting for users needs a redirect URI."), code="uris")
    if role not in AppProfile.Role.values:
        raise ValidationError(_("Choose a role for the app."), code="role")
    if ROLE_RANK[role] > ROLE_RANK.get(creator.role, 0):
        raise PermissionDenied(_("An app cannot have a higher role than yours."))
    secret = generate_client_secret()
    app = Application(
        name=name,
        user=creator,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant_type,
        redirect_uris=uris if grant_type == Application.GRANT_AUTHORIZATION_CODE else "",
        client_secret=secret,
        algorithm="",
        skip_authorization=False,
    )
    try:
        app.full_clean(exclude=["client_secret", "user"])
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None
    with transaction.atomic():
        app.save()  # hashes the secret
        AppProfile.objects.create(
            application=app, role=role, scopes=" ".join(chosen), created_by=creator
        )
        audit.record(
            "api_app.created",
            actor=actor,
            target=_target(app),
            changes={
                "client_id": app.client_id,
                "grant_type": GRANT_TYPES[grant_type],
                "scopes": " ".join(chosen),
                "role": role,
                "redirect_uris": app.redirect_uris,
            },
        )
    return NewSecret(application=app, client_secret=secret)


def _locked_app(app_id: int) -> Application:
    return Application.objects.select_for_update().get(pk=app_id)


@write_service
def app_secret_rotate(*, actor: Principal, app_id: int) -> NewSecret:
    """A new client secret; the old one stops working at once. Tokens already issued
    keep working until they expire (revoke the app to end them)."""
    _require_admin(actor)
    secret = generate_client_secret()
    with transaction.atomic():
        app = _locked_app(app_id)
        app.client_secret = secret
        app.save(update_fields=["client_secret", "updated"])
        AppProfile.objects.filter(application=app).update(secret_rotated_at=timezone.now())
        audit.record("api_app.secret_rotated", actor=actor, target=_target(app))
    return NewSecret(application=app, client_secret=secret)


# Ending access is always possible, in a read-only workspace too (as deactivating is).
@write_service(read_only_workspace_ok=True)
def app_revoke(*, actor: Principal, app_id: int) -> None:
    """Remove the app: every token, refresh token and grant of it stops working now."""
    _require_admin(actor)
    with transaction.atomic():
        app = _locked_app(app_id)
        tokens = AccessToken.objects.filter(application=app).count()
        audit.record(
            "api_app.revoked",
            actor=actor,
            target=_target(app),
            changes={"client_id": app.client_id, "tokens": tokens},
        )
        RefreshToken.objects.filter(application=app).delete()
        AccessToken.objects.filter(application=app).delete()
        Grant.objects.filter(application=app).delete()
        app.delete()


@write_service
def app_authorize(*, actor: Principal, client_id: str, scopes: list[str]) -> Application:
    """Record the user's consent (the grant itself is django-oauth-toolkit's, in the same
    transaction: the consent view calls this inside it)."""
    acting_user(actor)
    if actor.audit_impersonator is not None:  # a support session or an app: never
        raise PermissionDenied(_("Only the account's owner can allow an app to act for them."))
    app = Application.objects.get(client_id=client_id)
    audit.record(
        "api_app.authorized",
        actor=actor,
        target=_target(app),
        changes={"scopes": " ".join(scopes)},
    )
    return app


@write_service(read_only_workspace_ok=True)
def authorization_revoke(*, actor: Principal, app_id: int) -> int:
    """Withdraw an app's access to the actor's own account: their tokens of it end now."""
    user = acting_user(actor)
    if actor.audit_impersonator is not None:
        raise PermissionDenied(_("Only the account's owner can withdraw an app's access."))
    with transaction.atomic():
        app = Application.objects.get(pk=app_id)
        access = AccessToken.objects.filter(application=app, user=user)
        ended = access.count()
        if not ended and not RefreshToken.objects.filter(application=app, user=user).exists():
            raise Application.DoesNotExist
        RefreshToken.objects.filter(application=app, user=user).delete()
        access.delete()
        Grant.objects.filter(application=app, user=user).delete()
        audit.record(
            "api_app.authorization_revoked",
            actor=actor,
            target=_target(app),
            changes={"tokens": ended},
        )
    return ended


@write_service
def tokens_clear_expired(*, actor: Principal) -> None:
    """Delete the current workspace's expired tokens and grants (django-oauth-toolkit's
    ``clear_expired``, run per schema: its ``cleartokens`` command knows no tenants).
    Housekeeping of credentials that no longer work: not audited."""
    if getattr(getattr(actor, "audit_actor", None), "type", "") != "system":
        raise PermissionDenied
    clear_expired()
