"""Forms of the account pages. They only parse input; services validate and act."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin
from django.utils.translation import gettext_lazy as _

from .models import User
from .permissions import can_grant
from .selectors import time_zone_names


class SignInForm(AuthenticationForm):
    """Email + password. A locked-out or unknown account gets the same wording."""

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip().lower()


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class InviteForm(forms.Form):
    emails = forms.CharField(
        label=_("Email addresses"),
        help_text=_("One or more, separated by commas, spaces or new lines."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices, initial=User.Role.MEMBER)

    def __init__(self, *args, actor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        offer_grantable_roles(self.fields["role"], actor)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices)

    def __init__(self, *args, actor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        offer_grantable_roles(self.fields["role"], actor)


def offer_grantable_roles(field: forms.ChoiceField, actor) -> None:
    """Only the roles ``actor`` may give; any other is refused as a form error."""
    field.choices = [
        (value, label) for value, label in User.Role.choices if can_grant(actor, value)
    ]
    field.error_messages["invalid_choice"] = _("You cannot give this role.")


class StaffFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("All roles")), *User.Role.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All")),
            ("active", _("Active")),
            ("deactivated", _("Deactivated")),
            ("locked", _("Locked out")),
        ],
    )


class NewPasswordMixin(SetPasswordMixin):
    """A new password typed twice, as typed (never stripped: spaces are part of it),
    and one check that the two are the same (Django's ``SetPasswordMixin``). The
    strength check stays in the services."""

    error_messages = {"password_mismatch": _("The two passwords differ.")}

    @staticmethod
    def new_password_fields(label1: str, label2: str) -> tuple[forms.CharField, forms.CharField]:
        fields = SetPasswordMixin.create_password_fields(label1, label2)
        for field in fields:
            field.help_text = ""  # the page explains the rules itself
        return fields


class AcceptInvitationForm(NewPasswordMixin, forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    password1, password2 = NewPasswordMixin.new_password_fields(_("Password"), _("Password again"))

    def clean(self):
        self.validate_passwords()
        return super().clean()


def _time_zones() -> list[tuple[str, str]]:
    return [("", _("Workspace default (UTC)"))] + [
        (name, name) for name in sorted(time_zone_names())
    ]


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=150)
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Browser default")), *settings.LANGUAGES]
        self.fields["time_zone"].choices = _time_zones()


class PasswordChangeForm(NewPasswordMixin, forms.Form):
    """Current password plus the new one twice (the service checks both)."""

    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1, new_password2 = NewPasswordMixin.new_password_fields(
        _("New password"), _("New password again")
    )

    def clean(self):
        self.validate_passwords("new_password1", "new_password2")
        return super().clean()


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(label=_("New email address"))
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ReauthenticateForm(forms.Form):
    """Proof that the person at the keyboard is the account's owner, not just its session."""

    password_or_code = forms.CharField(
        label=_("Your password, or the current code from your authenticator app"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class WorkspacePolicyForm(forms.Form):
    require_2fa = forms.BooleanField(
        label=_("Require two-factor authentication for everyone"), required=False
    )
