"""Runs the Alembic migrations programmatically (``pengaduan migrate``)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def migrate(database_url: str) -> None:
    folder = Path(migrations.__file__).parent
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
