from django import forms
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import Application

from .models import AppProfile
from .settings import SCOPES


class AppForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=255)
    grant_type = forms.ChoiceField(
        label=_("The app gets its tokens"),
        choices=[
            (
                Application.GRANT_AUTHORIZATION_CODE,
                _("for each user who allows it (authorization code with PKCE)"),
            ),
            (
                Application.GRANT_CLIENT_CREDENTIALS,
                _("for itself, as a machine integration (client credentials)"),
            ),
        ],
    )
    redirect_uris = forms.CharField(
        label=_("Redirect URIs"),
        required=False,
        max_length=2000,
        help_text=_(
            "For apps acting for users: where users return after allowing it, one per line."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), widget=forms.CheckboxSelectMultiple,
        choices=[(name, f"{name}: {_(text)}") for name, text in SCOPES.items()],
    )  # fmt: skip
    role = forms.ChoiceField(
        label=_("Role of a machine integration"), choices=AppProfile.Role.choices,
        initial=AppProfile.Role.READONLY,
        help_text=_("What it may do when acting for itself; never more than your own role."),
    )  # fmt: skip
