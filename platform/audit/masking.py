"""Secrets never reach the audit log: values of sensitive-looking keys are masked."""

import re

MASK = "********"
_SENSITIVE = re.compile(r"pass|secret|token|key|otp|totp|recovery|credential|hash", re.I)


def mask_changes(changes: dict) -> dict:
    return {k: _mask(k, v) for k, v in changes.items()}


def _mask(key: str, value):
    if _SENSITIVE.search(str(key)):
        return MASK
    if isinstance(value, dict):
        return mask_changes(value)
    return value
