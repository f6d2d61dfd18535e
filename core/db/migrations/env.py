"""Alembic environment: the engine is handed over by core.db.engine.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from core.db.schema import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only when alembic is run by hand
    raise RuntimeError("run migrations through core.db.engine.migrate")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
