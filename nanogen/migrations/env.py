"""Alembic environment: runs on the connection nanogen hands it (see db.Database.migrate)."""

from alembic import context
from sqlmodel import SQLModel

from nanogen import models  # noqa: F401  (registers the tables)

config = context.config
connection = config.attributes.get('connection')
if connection is None:  # pragma: no cover - `alembic` CLI use, for writing new revisions
    import sqlalchemy as sa

    from nanogen.config import Settings
    connection = sa.create_engine(Settings().resolved_database_url()).connect()

context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == 'sqlite')
with context.begin_transaction():
    context.run_migrations()
