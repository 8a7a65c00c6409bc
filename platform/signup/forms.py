"""Public-site forms. Validation lives in the services; forms only carry fields."""

from django import forms
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=100)
    slug = forms.CharField(
        label=_("Workspace address"),
        max_length=40,
        help_text=_("Lowercase letters, digits and hyphens. Your workspace lives at this address."),
    )
    owner_name = forms.CharField(label=_("Your name"), max_length=150)
    owner_email = forms.EmailField(label=_("Work email"))
    owner_password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(render_value=False)
    )


class FindWorkspaceForm(forms.Form):
    email = forms.EmailField(label=_("Your work email"))
