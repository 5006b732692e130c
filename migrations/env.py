"""Alembic environment: the URL comes from the caller (``pengaduan migrate``), never from a file."""

from alembic import context
from sqlalchemy import create_engine, text

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    # one migrator at a time, even when several replicas start together
    connection.execute(text("SELECT pg_advisory_lock(7210982)"))
    connection.commit()
    context.configure(connection=connection, version_table_schema="public")
    with context.begin_transaction():
        context.run_migrations()
    connection.execute(text("SELECT pg_advisory_unlock(7210982)"))
    connection.commit()
engine.dispose()
