"""The audit actions of the integration API: OAuth2 apps and the grants users give them.
What an app does through the API is recorded by the services it calls, with the app as
actor (client credentials) or as impersonator of the user it acts for."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare


def _app(name: str, description, sentence) -> None:
    declare(name, target="oauth2_provider.application", description=description, sentence=sentence)


_app(
    "api_app.created",
    _("An OAuth2 app was registered for the integration API."),
    _("%(actor)s registered the app %(target)s"),
)
_app(
    "api_app.secret_rotated",
    _("An OAuth2 app's client secret was replaced; the old one stopped working."),
    _("%(actor)s rotated the secret of the app %(target)s"),
)
_app(
    "api_app.revoked",
    _("An OAuth2 app was revoked: its tokens stopped working and it was removed."),
    _("%(actor)s revoked the app %(target)s"),
)
_app(
    "api_app.authorized",
    _("A user allowed an OAuth2 app to act for them, with the scopes shown."),
    _("%(actor)s authorised the app %(target)s (%(scopes)s)"),
)
_app(
    "api_app.authorization_revoked",
    _("A user withdrew an OAuth2 app's access to their account."),
    _("%(actor)s withdrew the access of the app %(target)s"),
)
