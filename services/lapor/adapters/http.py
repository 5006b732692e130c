"""The one real adapter of ``domain.ports.LaporApi``: SP4N-LAPOR!'s integration API over HTTPS (httpx), every
shape read and written by ``adapters/mapping.py``. It makes one call per method and classifies the outcome
(``LaporUnavailable``, ``LaporAnswerLost``, ``LaporRejected``); it never retries or sleeps: the bridge's tables
hold what is still to do and when."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from services.lapor.adapters import mapping
from services.lapor.domain.model import FollowUp, LaporAttachment, ReportPage
from services.lapor.domain.ports import LaporAnswerLost, LaporRejected, LaporUnavailable

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class HttpLaporApi:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        max_attachment_bytes: int = 5 * 1024 * 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        self.max_attachment_bytes = max_attachment_bytes
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=mapping.auth_headers(token),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # -- reads: safe to repeat, so every failure short of a refusal is "unavailable"

    def dispositions(self, instansi_id: str, cursor: str | None) -> ReportPage:
        body = self._read_json(mapping.dispositions_path(instansi_id), mapping.dispositions_params(cursor))
        return mapping.parse_dispositions(body, instansi_id)

    def attachment(self, attachment: LaporAttachment) -> bytes:
        url = urljoin(self.base_url + "/", attachment.url)
        if urlsplit(url)[:2] != self._origin:  # our token goes only to LAPOR!'s own host
            raise LaporRejected(0, f"attachment outside LAPOR!'s host: {urlsplit(url).netloc}")
        try:
            with self._client.stream("GET", url) as response:
                self._check(response)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_attachment_bytes:
                        raise LaporRejected(
                            413, f"attachment {attachment.name!r} over {self.max_attachment_bytes} bytes"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise LaporUnavailable(f"attachment: {type(exc).__name__}") from None

    # -- writes

    def acknowledge(self, tracking_id: str, reference: str) -> None:
        try:
            response = self._client.post(
                mapping.acknowledge_path(tracking_id), json=mapping.acknowledge_body(reference)
            )
        except httpx.HTTPError as exc:
            raise _lost_or_unavailable(exc) from None
        self._check(response)

    def follow_up(self, tracking_id: str, follow_up: FollowUp, idempotency_key: str) -> str:
        try:
            response = self._client.post(
                mapping.follow_up_path(tracking_id),
                json=mapping.follow_up_body(follow_up),
                headers={mapping.IDEMPOTENCY_HEADER: idempotency_key},
            )
        except httpx.HTTPError as exc:
            raise _lost_or_unavailable(exc) from None
        self._check(response)
        return mapping.parse_follow_up(_json(response))

    # -- internals

    def _read_json(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise LaporUnavailable(f"{path}: {type(exc).__name__}") from None
        self._check(response)
        return _json(response)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_success:
            return
        if response.status_code in RETRYABLE_STATUS:
            raise LaporUnavailable(f"HTTP {response.status_code}")
        try:
            response.read()
            body: Any = response.json()
        except (ValueError, httpx.HTTPError):
            body = response.text if response.is_stream_consumed else ""
        raise LaporRejected(response.status_code, mapping.error_message(body))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise mapping.MappingError(f"HTTP {response.status_code}: the answer is not JSON") from None


def _lost_or_unavailable(exc: httpx.HTTPError) -> Exception:
    """A write whose request never left (no connection, a connect timeout) did nothing there; one that was sent
    and then lost its answer (a read timeout, the connection dropped) may have been done."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return LaporUnavailable(type(exc).__name__)
    return LaporAnswerLost(type(exc).__name__)
