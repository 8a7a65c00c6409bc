"""Console forms."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.principal import VENDOR_ROLES
from tenants.selectors import Tenant

from .audit_actions import ROLE_NAMES


def role_choices() -> list[tuple[str, str]]:
    return [(role, ROLE_NAMES.get(role, role)) for role in VENDOR_ROLES]


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (kept in the audit log)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class TrialForm(ReasonForm):
    until = forms.DateField(
        label=_("Trial ends on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    field_order = ["until", "reason"]


class CompForm(ReasonForm):
    plan = forms.ChoiceField(label=_("Plan"))
    until = forms.DateField(label=_("Free until"), widget=forms.DateInput(attrs={"type": "date"}))
    field_order = ["plan", "until", "reason"]

    def __init__(self, *args, plans: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = plans


class MoveForm(ReasonForm):
    """Where to move a workspace's schema: a worker node of the Citus cluster, or the
    least loaded one."""

    to = forms.ChoiceField(label=_("Move to"), required=False)
    field_order = ["to", "reason"]

    def __init__(self, *args, nodes: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(str(node), str(node)) for node in nodes]
        self.fields["to"].choices = [("", _("The least loaded other node")), *choices]


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Console role"), choices=role_choices)


class RoleForm(ReasonForm):
    role = forms.ChoiceField(label=_("Console role"), choices=role_choices)


class PasswordForm(forms.Form):
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError(_("The two passwords differ."))
        return data


class FilterSelect(forms.Select):
    """A select whose options are written inline (console/widgets/select.html): the same
    markup as Django's, without two template includes per option."""

    template_name = "console/widgets/select.html"


class FleetForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), *Tenant.State.choices],
        widget=FilterSelect,
    )
    plan = forms.ChoiceField(label=_("Plan"), required=False, widget=FilterSelect)
    billing_status = forms.ChoiceField(label=_("Billing"), required=False, widget=FilterSelect)
    trial_ending = forms.BooleanField(label=_("Trial ends within a week"), required=False)
    read_only = forms.ChoiceField(
        label=_("Read-only"),
        required=False,
        choices=[("", _("Either")), ("yes", _("Read-only")), ("no", _("Writable"))],
        widget=FilterSelect,
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("-created", _("Newest first")),
            ("created", _("Oldest first")),
            ("name", _("Name")),
            ("-activity", _("Last activity")),
            ("-seats", _("Most seats")),
            ("-storage", _("Most storage")),
        ],
        widget=FilterSelect,
    )

    def __init__(
        self,
        *args,
        plans: list[tuple[str, str]],
        billing_statuses: list[tuple[str, str]],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", _("Any plan")), *plans]
        self.fields["billing_status"].choices = [("", _("Any billing status")), *billing_statuses]
