"""Alembic environment: migrates the database named by the config URL or LIVEBOT_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from pipeline.schema import metadata
from pipeline.settings import get_settings
from pipeline.storage import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch: SQLite can only ALTER by copying the table; batch mode does that.
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
