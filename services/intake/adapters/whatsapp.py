"""WhatsApp Cloud API: downloading the media a message refers to.

A webhook carries media ids only. ``GET {api}/{version}/{media_id}`` (Bearer token) answers
``{"url": ...}``; ``GET url`` (the same Bearer token) answers the bytes. The URL lives a few minutes.
"""

from __future__ import annotations

from typing import Protocol

import httpx


class MediaUnavailable(Exception):
    """The media could not be fetched (unknown id, expired URL, provider down)."""


class MediaTooLarge(MediaUnavailable):
    """The media is larger than an attachment may be."""


class MediaFetcher(Protocol):
    def fetch(self, media_id: str, max_bytes: int) -> bytes: ...


class GraphMediaFetcher:
    def __init__(self, api_url: str, version: str, token: str, timeout: float = 10.0) -> None:
        self.base = f"{api_url.rstrip('/')}/{version.strip('/')}"
        self.token = token
        self.timeout = httpx.Timeout(timeout, connect=min(5.0, timeout))

    def fetch(self, media_id: str, max_bytes: int) -> bytes:
        if not media_id or not media_id.replace("_", "").replace("-", "").isalnum():
            raise MediaUnavailable("malformed media id")
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=3) as client:
                meta = client.get(f"{self.base}/{media_id}", headers=headers)
                if meta.status_code != 200:
                    raise MediaUnavailable(f"media lookup answered {meta.status_code}")
                try:
                    url = meta.json().get("url")
                except (ValueError, AttributeError):
                    url = None
                if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                    raise MediaUnavailable("media lookup gave no URL")
                declared = meta.json().get("file_size")
                if isinstance(declared, int) and declared > max_bytes:
                    raise MediaTooLarge("media larger than allowed")
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code != 200:
                        raise MediaUnavailable(f"media download answered {response.status_code}")
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise MediaTooLarge("media larger than allowed")
                        chunks.append(chunk)
                    return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise MediaUnavailable(type(exc).__name__) from exc
