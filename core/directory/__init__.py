"""The employee directory: lookups, roles, resolving ``<who>``, CSV import."""
