"""The local store: SQLAlchemy 2.x over SQLite (any SQLAlchemy URL works), migrated by Alembic."""
