"""The staff directory (``shared/contracts/accounts.py``) as a SQLAlchemy table, for the services that read it:
``tenancy.staff_directory``, a view (migration 0013), one column per field of ``StaffMember``."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, MetaData, Table, Text
from sqlalchemy.types import TypeEngine

from shared.contracts.accounts import STAFF_DIRECTORY, StaffMember

_TYPES: dict[type, TypeEngine] = {str: Text(), bool: Boolean(), datetime: DateTime(timezone=True)}


def _column(name: str, hint: typing.Any) -> Column:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    (kind,) = [a for a in args if a is not type(None)]
    return Column(name, _TYPES[kind], nullable=type(None) in args, primary_key=name == "username")


_schema, _view = STAFF_DIRECTORY
_hints = typing.get_type_hints(StaffMember)

# its own MetaData: a view, never created by ``create_all`` beside the tables
staff_directory = Table(
    _view, MetaData(schema=_schema), *(_column(f.name, _hints[f.name]) for f in dataclasses.fields(StaffMember))
)
