"""Storage: SQLAlchemy 2 (async) over SQLite (WAL) or PostgreSQL, schema managed by Alembic."""
