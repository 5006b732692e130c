"""What letters' routes share: the service container, a document's row."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from services.letters.bootstrap import Letters
from shared.http import ErrorBody


def get_letters(request: Request) -> Letters:
    return request.app.state.letters


LettersDep = Annotated[Letters, Depends(get_letters)]

NOT_FOUND = {404: {"model": ErrorBody}}
# what the API docs say of answers and bodies that are not JSON
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


def document_row(letters: Letters, document_id: UUID) -> dict[str, Any] | None:
    with letters.uow() as uow:
        return uow.documents.get(document_id)
