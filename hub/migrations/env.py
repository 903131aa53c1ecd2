"""Alembic environment: runs on the connection handed in by hub.db.migrate."""

from alembic import context
from sqlmodel import SQLModel

import hub.models  # noqa: F401  (registers the tables)
from hub.db import include_object

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  include_object=include_object)
with context.begin_transaction():
    context.run_migrations()
