"""The gradebook in SQL: typed models, the database handle, and service functions that take
a session. Alembic (``migrations/``) owns the schema; nothing here creates tables."""
