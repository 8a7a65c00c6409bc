"""Plans live in the public schema; a tenant points at one."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    code = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=100)
    max_staff = models.PositiveIntegerField(_("active staff (seats)"))
    storage_quota_bytes = models.BigIntegerField(_("storage quota in bytes"))
    max_upload_bytes = models.BigIntegerField(_("largest file in bytes"))
    # The integration API's rate limit for each OAuth2 grant of a workspace on this plan.
    api_requests_per_minute = models.PositiveIntegerField(
        _("API requests per minute"), default=600, db_default=600
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["max_staff"]

    def __str__(self) -> str:
        return self.name
