"""What the two pages that send a complaint with files (the citizens' form, the staff's entry) share: the files
a file input really holds, and the idempotency key that makes the same form sent twice one complaint."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.datastructures import UploadFile  # what a parsed form holds (fastapi.UploadFile is a subclass)

Files = list[tuple[str, tuple[str, bytes, str]]]  # (field, (filename, bytes, content type)), as httpx sends them


def chosen(form: Any, name: str) -> list[UploadFile]:
    """The files chosen in a file input (a browser sends an empty, nameless part when none was)."""
    return [u for u in form.getlist(name) if isinstance(u, UploadFile) and u.filename]


def idempotency_key(prefix: str, csrf: str, complaint: dict, files: Files) -> str:
    """The same form sent twice from one browser session is the same request (one complaint)."""
    digest = hashlib.sha256(csrf.encode())
    digest.update(json.dumps(complaint, sort_keys=True, ensure_ascii=False).encode())
    for field, (filename, data, _) in files:
        digest.update(f"\x00{field}\x00{filename}\x00".encode() + hashlib.sha256(data).digest())
    return prefix + digest.hexdigest()
