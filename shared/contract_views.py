"""A contract's view as a SQLAlchemy table, for the services that read it: one column per field of the
contract's dataclass, typed from its annotations (``shared/staff_directory.py``, ``shared/organisation_directory.py``).
Each view gets a MetaData of its own: a view is never created by ``create_all`` beside the tables."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import ARRAY, Boolean, Column, Date, DateTime, MetaData, Table, Text, Uuid
from sqlalchemy.types import TypeEngine

_TYPES: dict[object, TypeEngine] = {
    str: Text(),
    bool: Boolean(),
    datetime: DateTime(timezone=True),
    date: Date(),
    UUID: Uuid(),
    list[str]: ARRAY(Text()),
}


def _column(name: str, hint: typing.Any, key: tuple[str, ...]) -> Column:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    (kind,) = [a for a in args if a is not type(None)]
    return Column(name, _TYPES[kind], nullable=type(None) in args, primary_key=name in key)


def view_table(contract: type, where: tuple[str, str], key: tuple[str, ...]) -> Table:
    """The view ``where`` (schema, name) whose rows are ``contract``'s fields, in order; ``key`` its key columns."""
    schema, name = where
    hints = typing.get_type_hints(contract)
    return Table(
        name, MetaData(schema=schema), *(_column(f.name, hints[f.name], key) for f in dataclasses.fields(contract))
    )
