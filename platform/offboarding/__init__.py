"""Offboarding: workspace exports, scheduled deletion, restore and purge (issue 12)."""
