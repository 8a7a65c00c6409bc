"""Audit assertions for every module's tests (re-exported from ``audit.testing``)."""

from audit.testing import CapturedEvents, assert_audited, capture_audit

__all__ = ["CapturedEvents", "assert_audited", "capture_audit"]
