from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(
        attrs={"rows": 2}))  # fmt: skip


class ScheduleForm(ReasonForm):
    grace_days = forms.IntegerField(
        label=_("Grace period (days)"), min_value=0, max_value=365,
        initial=lambda: settings.OFFBOARDING_GRACE_DAYS,
    )  # fmt: skip
