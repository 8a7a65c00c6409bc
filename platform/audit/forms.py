"""The filter form of the audit log pages and exports."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import registry
from .selectors import EventFilter


def action_choices() -> list:
    """The registry's actions for the ``<select>``: one ``<optgroup>`` per group, each
    starting with "every event of the group" (its plain word, such as ``auth``)."""
    choices: list = [("", gettext("All actions"))]
    for group, actions in registry.groups().items():
        options = [(group, gettext("All “%(group)s” events") % {"group": group})]
        options += [(a.name, f"{a.name} · {str(a.description).rstrip('.')}") for a in actions]
        choices.append((group, options))
    return choices


class EventFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=255)
    action = forms.CharField(
        label=_("Action"), required=False, max_length=100, widget=forms.Select,
        help_text=_("An action, or a whole group such as auth."),
    )  # fmt: skip
    target = forms.CharField(label=_("Target"), required=False, max_length=255)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built per form: labels in the reader's language, every declared action.
        self.fields["action"].widget.choices = action_choices()

    def clean_action(self) -> tuple[str, ...]:
        """A name, a group word (``auth``) or a prefix (``auth.``): the actions it means."""
        word = self.cleaned_data["action"].strip()
        if not word:
            return ()
        actions = registry.matching(word)
        if not actions:
            raise forms.ValidationError(gettext("No action is called “%(word)s”.") % {"word": word})
        return tuple(actions)

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
            actor=data["actor"].strip(), actions=data["action"],
            target=data["target"].strip(), since=data["since"], until=data["until"],
        )  # fmt: skip
