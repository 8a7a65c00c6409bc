"""Support sessions: a vendor staff member works in a workspace as one of its users, with
the workspace's consent, time-limited and audited. See ``platform/support/README.md``."""
