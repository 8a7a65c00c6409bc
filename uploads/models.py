"""Documents live in each tenant's schema; their bytes live in object storage."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Document(models.Model):
    """An uploaded file and where it is in the pipeline.

    ``quarantined`` (waiting for scan) → ``scanning`` → ``available`` or ``blocked``;
    ``available``/``blocked``/``quarantined`` → ``deleted`` (soft; restorable for
    ``UPLOADS_RESTORE_DAYS``) → purged (row and bytes removed).
    """

    class State(models.TextChoices):
        QUARANTINED = "quarantined", _("Waiting for scan")
        SCANNING = "scanning", _("Scanning")
        AVAILABLE = "available", _("Available")
        BLOCKED = "blocked", _("Blocked")
        DELETED = "deleted", _("Deleted")

    # The id is also the storage key's last part: random, so never guessable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=255)
    size = models.BigIntegerField(_("size in bytes"))
    content_type = models.CharField(_("content type"), max_length=127)
    sha256 = models.CharField(max_length=64)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.QUARANTINED
    )
    # Where the bytes are: quarantine until the scan is clean, then the documents storage.
    quarantine_key = models.CharField(max_length=255, blank=True)
    storage_key = models.CharField(max_length=255, blank=True)
    signature = models.CharField(_("detected threat"), max_length=255, blank=True)
    scan_attempts = models.PositiveIntegerField(default=0)
    last_scan_error = models.CharField(max_length=255, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    state_before_delete = models.CharField(max_length=16, choices=State.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_waiting(self) -> bool:
        return self.state in {self.State.QUARANTINED, self.State.SCANNING}
