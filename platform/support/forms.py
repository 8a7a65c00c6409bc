"""Forms of the support pages: the workspace's consent, and a session's start."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Mode


class ConsentForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("Vendor support access"), choices=Mode.choices, widget=forms.RadioSelect
    )
    until = forms.DateField(
        label=_("Until (inclusive; empty: until you change it)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    notify_owners = forms.BooleanField(
        label=_("Email the owners when a support session starts"), required=False
    )


class StartForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Work as"), coerce=int)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    ticket = forms.CharField(label=_("Ticket reference"), max_length=100)
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=[(Mode.READ_ONLY, Mode.READ_ONLY.label), (Mode.READ_WRITE, Mode.READ_WRITE.label)],
        initial=Mode.READ_ONLY,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, users=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [
            (u.id, f"{u.full_name} <{u.email}> ({u.role})" if u.full_name else u.email)
            for u in users
        ]
