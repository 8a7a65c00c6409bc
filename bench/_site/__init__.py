"""A bench-only Django site: the same one-query view served with and without tenancy."""
