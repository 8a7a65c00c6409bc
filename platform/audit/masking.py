"""Secrets never reach the audit log: values under sensitive-looking keys are masked,
at any depth (nested dicts, lists of dicts, ``{"before": ..., "after": ...}``)."""

import re
from typing import Any

MASK = "********"
_SENSITIVE = re.compile(
    r"pass|secret|token|key|otp|totp|recovery|credential|hash|authorization|cookie", re.I
)


def is_sensitive(key: str) -> bool:
    return bool(_SENSITIVE.search(str(key)))


def mask_changes(changes: dict) -> dict:
    """A copy of ``changes`` with the value of every sensitive key replaced by ``MASK``."""
    return {k: MASK if is_sensitive(k) else _mask_value(v) for k, v in changes.items()}


def _mask_value(value: Any) -> Any:
    if isinstance(value, dict):
        return mask_changes(value)
    if isinstance(value, list | tuple):
        return [_mask_value(item) for item in value]
    return value
