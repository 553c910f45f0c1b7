"""Persistence: SQLAlchemy models, engine/session setup and alembic migrations."""
