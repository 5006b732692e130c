"""What letters' routes share: the service container, a document's row, and which rows are signed letters."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy import select

from services.letters.adapters.tables import documents
from services.letters.bootstrap import Letters
from shared.http import ErrorBody


def get_letters(request: Request) -> Letters:
    return request.app.state.letters


LettersDep = Annotated[Letters, Depends(get_letters)]

NOT_FOUND = {404: {"model": ErrorBody}}
# what the API docs say of answers and bodies that are not JSON
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


def document_row(letters: Letters, document_id: UUID):
    with letters.engine.connect() as conn:
        return conn.execute(select(documents).where(documents.c.id == document_id)).mappings().first()


def is_signed_letter(row) -> bool:
    """Only a numbered, signed response letter is verified: a receipt or a draft is no letter (and is not
    shown to anyone who merely knows its id)."""
    return row is not None and row["kind"] == "response_letter" and bool(row["letter_number"])
