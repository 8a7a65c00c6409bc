"""The filter form of the audit log pages and exports."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import EventFilter


class EventFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=255)
    action = forms.CharField(
        label=_("Action"), required=False, max_length=100,
        help_text=_("An action such as auth.login, or a prefix such as auth."),
    )  # fmt: skip
    target = forms.CharField(label=_("Target"), required=False, max_length=255)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def to_filter(self) -> EventFilter:
        """The filter of a valid form (an empty filter for an invalid one)."""
        if not self.is_valid():
            return EventFilter()
        data = self.cleaned_data
        return EventFilter(
            actor=data["actor"].strip(), action=data["action"].strip(),
            target=data["target"].strip(), since=data["since"], until=data["until"],
        )  # fmt: skip
