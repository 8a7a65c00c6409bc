"""The integration API: OAuth2 apps per workspace and the versioned REST API (/api/v1/)."""
