"""The national e-signature service: letters signed by BSrE (Balai Sertifikasi Elektronik, BSSN) with the Camat's
own certificate, through its "esign client service" REST API (v2). The Camat types the passphrase of that
certificate for each letter; it goes to BSrE in one request and nowhere else (never stored, logged or put in an
exception). Beside the local PAdES signer (:mod:`services.letters.adapters.signing`), which signs with a key we
hold; here the key stays at BSrE and we only send the PDF.

What is built from the public description, and what a kabupaten must confirm against BSrE with its own client
credentials (the test suite runs against devtools/bsre, a local server speaking the same shapes, not against BSrE):

* ``POST {url}/api/v2/sign/pdf`` with HTTP Basic authentication (the client id and secret BSrE gives an agency)
  and the JSON body ``{"nik", "passphrase", "signatureProperties": [{"tampilan": "VISIBLE" | "INVISIBLE",
  "page", "originX", "originY", "width", "height", "imageBase64"?, "location", "reason"}], "file": [<PDF,
  base64>]}``; success is HTTP 200 ``{"file": [<signed PDF, base64>], "time": <ms>}``. Seen in public
  integrations; one PDF per request here (how several files pair with several properties is not described).
* Errors as JSON ``{"status_code": <BSrE's code>, "error" (or "message"): <text>}``. Public integrations show
  2031 "Passphrase anda salah" and 2011 "User tidak terdaftar", mostly with HTTP 400; some report the wrong
  passphrase coming with HTTP 500, so the code and the text are read before the HTTP status and a wrong
  passphrase is never mistaken for an outage (and never retried). 2021 (no certificate issued) is taken as
  "not registered" too. Wrong client credentials: HTTP 401 (a Spring-style ``{"status": 401, "error":
  "Unauthorized"}``). None of the codes is confirmed by a BSrE document we could read.
* The visible signature's box: ``originX``/``originY``/``width``/``height`` are taken as PDF points with the
  origin at the bottom-left of the page (iText's convention, which BSrE's service is said to use). NOT
  confirmed; one public integration comments that (0, 0) is the top-left corner. A kabupaten must sign a test
  letter and look where the box lands before going live.
* ``POST {url}/api/v2/user/check/status`` ``{"nik"}`` answers ``{"status": "ISSUE" | "NOT_REGISTERED" |
  "NO_CERTIFICATE" | "EXPIRED" | "REVOKED" | ..., "message"}``; only ``ISSUE`` can sign.
* Whether the signed PDF is an incremental update of ours (our bytes a prefix of it) and which PAdES level BSrE
  produces (public reports say B-T) is BSrE's business; this client only checks that the answer is a PDF.

Retries: only while the service is unavailable (no connection, a connect timeout, HTTP 5xx without a known BSrE
code, 429), ``attempts`` tries in all with a short backoff (0.5 s, 1 s, 2 s, 2 s...), and never past the caller's
``deadline`` (no try is started that could not finish before it; each try's timeout is cut to what is left). Never
after a wrong passphrase: BSrE may count each wrong try towards locking the certificate. A signing whose request may
have reached BSrE without an answer coming back (a read timeout, a connection lost mid-answer) is not retried either:
BSrE may have signed, and logged a signing, without our hearing of it; the Camat sees "unavailable" and tries
again knowingly. A status query is retried in those cases too (it signs nothing).

Secrets: the passphrase is never logged, never part of an exception's message, and our exceptions carry no
``__cause__``/``__context__`` (httpx's errors hold the request and its body); in tracebacks our frames hold it
only wrapped (``'***'``), for error trackers that print frame locals. NIKs appear in logs and messages masked to
their last four digits.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

log = logging.getLogger(__name__)

SIGN_PATH = "/api/v2/sign/pdf"
STATUS_PATH = "/api/v2/user/check/status"
ACTIVE_STATUS = "ISSUE"  # the user-status value of a signer whose certificate can sign

WRONG_PASSPHRASE_CODES = frozenset({2031})
NOT_REGISTERED_CODES = frozenset({2011, 2021})  # user not registered; no certificate issued
UNAVAILABLE_HTTP = frozenset({408, 429})  # besides 5xx
BACKOFF_SECONDS = (0.5, 1.0, 2.0)  # before the 2nd, 3rd, 4th try; 2 s after that
MAX_RETRY_AFTER = 5.0  # a Retry-After header is honoured up to this many seconds
MESSAGE_LIMIT = 200  # characters of BSrE's own message quoted in ours
MIN_ATTEMPT_SECONDS = 1.0  # a try with less time than this left before the caller's deadline is not started

_NIK = re.compile(r"^\d{16}$")
_PASSPHRASE_TEXT = re.compile(r"passphrase[^.]*salah", re.IGNORECASE)
_NOT_REGISTERED_TEXT = re.compile(r"tidak terdaftar|not registered", re.IGNORECASE)


# --------------------------------------------------------------------------- settings and values


@dataclass(frozen=True)
class BsreSettings:
    """Where BSrE's esign client service is and the agency's client credentials for it."""

    url: str  # base URL, e.g. https://esign.example.go.id
    username: str  # client id (HTTP Basic)
    password: str = field(repr=False)
    timeout: float = 30.0  # seconds per request (connect, send, wait for the answer: each)
    attempts: int = 3  # tries while the service is unavailable

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")


@dataclass(frozen=True)
class Appearance:
    """Where the visible signature goes: a box on a page, in PDF points with the origin at the bottom-left of the
    page (as we understand BSrE's convention; see the module's notes), and optionally an image (PNG) to show."""

    page: int  # 1-based
    x: float
    y: float
    width: float
    height: float
    image_png: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError("page is 1-based")
        if self.width <= 0 or self.height <= 0:
            raise ValueError("the box needs a positive width and height")


# --------------------------------------------------------------------------- errors


class EsignError(Exception):
    """Signing through BSrE failed. ``code`` is stable (for APIs); ``str(e)`` is for the Camat, in Bahasa
    Indonesia. Never carries the passphrase, the request body or a full NIK; never chained to httpx's errors.
    ``http_status``, ``bsre_code`` and ``bsre_message`` say what BSrE answered, when it answered."""

    code: ClassVar[str] = "esign_error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        bsre_code: int | str | None = None,
        bsre_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.bsre_code = bsre_code
        self.bsre_message = bsre_message


class WrongPassphrase(EsignError):
    """BSrE refused the passphrase (code 2031). Not retried: each wrong try may count towards a lockout."""

    code = "wrong_passphrase"


class SignerNotRegistered(EsignError):
    """The NIK is not registered at BSrE, or has no certificate that can sign (2011, 2021, a status other than
    ISSUE)."""

    code = "signer_not_registered"


class EsignUnavailable(EsignError, ConnectionError):
    """BSrE could not be reached, timed out or answered a server error, ``attempts`` times: try again later. A
    ``ConnectionError``, so a worker's task retry treats it as transient."""

    code = "esign_unavailable"


class EsignRejected(EsignError):
    """Anything else BSrE answered: the client credentials refused (401/403), a request it calls malformed, an
    unknown error code, an answer that is not the signed PDF. A configuration fault for an administrator."""

    code = "esign_rejected"


# --------------------------------------------------------------------------- the client


class _Secret:
    """A string that prints as ``'***'``: what our frames hold instead of the passphrase, so that a traceback's
    frame locals (error trackers print them) do not show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass(frozen=True)
class _Outage:
    """An attempt that got no usable answer: why, in words for the Camat; how long the service asked us to wait;
    whether the request may have reached the service (``sent``: a read timeout, a connection lost mid-answer)."""

    reason: str
    http_status: int | None = None
    retry_after: float | None = None
    sent: bool = False


def mask_nik(nik: str) -> str:
    """``************0001``: only the last four digits, for logs and messages."""
    return "*" * (len(nik) - 4) + nik[-4:] if len(nik) > 4 else "*" * len(nik)


class BsreClient:
    """A client of BSrE's esign client service (API v2). One per process is fine (it keeps a connection pool);
    thread-safe as httpx's ``Client`` is. ``transport`` is for tests of the transport layer only."""

    def __init__(self, settings: BsreSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.Client(
            base_url=settings.url.rstrip("/"),
            auth=httpx.BasicAuth(settings.username, settings.password),
            timeout=httpx.Timeout(settings.timeout),
            headers={"Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BsreClient(url={self.settings.url!r}, username={self.settings.username!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BsreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public

    def sign_pdf(
        self,
        pdf: bytes,
        *,
        nik: str,
        passphrase: str,
        reason: str,
        location: str,
        appearance: Appearance | None = None,
        deadline: float | None = None,
    ) -> bytes:
        """The PDF signed by BSrE with the certificate of ``nik``, unlocked by ``passphrase``: visible in
        ``appearance``'s box, invisible without one. ``reason`` and ``location`` go into the signature.
        ``deadline`` (``time.monotonic()``): no try starts that could not end by then.

        Raises :class:`WrongPassphrase` (also for an empty one, without asking BSrE), :class:`SignerNotRegistered`
        (also for a NIK that is not 16 digits), :class:`EsignUnavailable` after ``attempts`` tries,
        :class:`EsignRejected` for anything else, including an answer that is not a PDF; ``ValueError`` when
        ``pdf`` is not a PDF."""
        secret = _Secret(passphrase)
        del passphrase  # from here on only the wrapper (see _Secret)
        if not pdf.startswith(b"%PDF-"):
            raise ValueError("not a PDF: it does not start with %PDF-")
        self._check_nik(nik)
        if not secret.reveal():
            raise WrongPassphrase("Passphrase tanda tangan elektronik belum diisi.")
        properties: dict[str, Any] = {"tampilan": "INVISIBLE", "location": location, "reason": reason}
        if appearance is not None:
            properties.update(
                tampilan="VISIBLE",
                page=appearance.page,
                originX=float(appearance.x),
                originY=float(appearance.y),
                width=float(appearance.width),
                height=float(appearance.height),
            )
            if appearance.image_png:
                properties["imageBase64"] = base64.b64encode(appearance.image_png).decode("ascii")
        document = base64.b64encode(pdf).decode("ascii")

        def body() -> bytes:
            payload = {
                "nik": nik,
                "passphrase": secret.reveal(),
                "signatureProperties": [properties],
                "file": [document],
            }
            return json.dumps(payload).encode()

        started = time.monotonic()
        response, attempt = self._call(
            SIGN_PATH,
            body,
            success_key="file",
            nik=nik,
            secret=secret,
            what="penandatanganan",
            deadline=deadline,
            signs=True,
        )
        signed = self._signed_pdf(response, nik=nik, secret=secret)
        log.info(
            "BSrE signed a PDF for NIK %s in %.0f ms (attempt %d, %d bytes in, %d out)",
            mask_nik(nik),
            (time.monotonic() - started) * 1000,
            attempt,
            len(pdf),
            len(signed),
        )
        return signed

    def user_status(self, nik: str) -> str:
        """BSrE's status of the signer ``nik``: ``"ISSUE"`` (a certificate that can sign), ``"NOT_REGISTERED"``,
        ``"NO_CERTIFICATE"``, ``"EXPIRED"``, ``"REVOKED"``, or whatever else BSrE says, upper case. Raises
        :class:`SignerNotRegistered` for a NIK that is not 16 digits, :class:`EsignUnavailable`,
        :class:`EsignRejected` as :meth:`sign_pdf`."""
        self._check_nik(nik)

        def body() -> bytes:
            return json.dumps({"nik": nik}).encode()

        try:
            response, _ = self._call(
                STATUS_PATH, body, success_key="status", nik=nik, secret=None, what="pemeriksaan status"
            )
        except SignerNotRegistered:
            return "NOT_REGISTERED"  # a deployment that answers 2011 as an error, not as a status
        answer = _json(response)
        found = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(found, str) or not found.strip():
            raise self._rejected(
                response, answer, nik=nik, secret=None, what="pemeriksaan status", detail="jawaban tanpa status"
            )
        status = found.strip().upper()
        log.info("BSrE status of NIK %s: %s", mask_nik(nik), status)
        return status

    # -- one call, retried while BSrE is unavailable

    def _call(
        self,
        path: str,
        body: Callable[[], bytes],
        *,
        success_key: str,
        nik: str,
        secret: _Secret | None,
        what: str,
        deadline: float | None = None,
        signs: bool = False,
    ) -> tuple[httpx.Response, int]:
        """POST ``body()`` to ``path`` until an answer that is not an outage, at most ``attempts`` times and never
        past ``deadline``; the answer and the attempt it came at. Raises the application errors (wrong passphrase,
        not registered) as soon as they come, :class:`EsignUnavailable` when every attempt was an outage, when no
        time is left, or (``signs``) when a request may have reached BSrE unanswered."""
        attempts = self.settings.attempts
        outage: _Outage | None = None
        tried = 0
        for attempt in range(1, attempts + 1):
            if outage is not None:
                if signs and outage.sent:
                    break  # BSrE may have signed: never twice without the Camat knowing
                delay = BACKOFF_SECONDS[min(attempt - 2, len(BACKOFF_SECONDS) - 1)]
                if outage.retry_after is not None:
                    delay = max(delay, min(outage.retry_after, MAX_RETRY_AFTER))
                if deadline is not None and deadline - time.monotonic() - delay < MIN_ATTEMPT_SECONDS:
                    break  # no time left for another try
                log.warning(
                    "BSrE unavailable for %s (%s); attempt %d of %d in %.1f s",
                    path,
                    outage.reason,
                    attempt,
                    attempts,
                    delay,
                )
                time.sleep(delay)
            timeout = self.settings.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout < MIN_ATTEMPT_SECONDS and outage is None:
                    outage = _Outage("waktu yang tersisa tidak cukup untuk meminta tanda tangan")
                    break
            tried = attempt
            result = self._send(path, body, timeout)
            if isinstance(result, _Outage):
                outage = result
                continue
            outage = self._classify(result, success_key=success_key, nik=nik, secret=secret, what=what)
            if outage is None:
                return result, attempt
        assert outage is not None  # noqa: S101
        log.warning("BSrE unavailable for %s after %d attempt(s) (%s)", path, tried, outage.reason)
        raise EsignUnavailable(
            f"Layanan tanda tangan elektronik BSrE sedang tidak dapat dihubungi ({what}: {tried} kali dicoba, "
            f"terakhir: {outage.reason}). Surat belum ditandatangani; silakan coba lagi beberapa saat lagi.",
            http_status=outage.http_status,
        )

    def _send(self, path: str, body: Callable[[], bytes], timeout: float | None = None) -> httpx.Response | _Outage:
        """One POST. Transport failures come back as an :class:`_Outage` (never raised from here: httpx's
        exceptions hold the request, body included, and would be chained to ours); a URL or protocol that
        cannot work at all raises :class:`EsignRejected`, outside the ``except``."""
        fault: str | None = None
        limit = self.settings.timeout if timeout is None else timeout
        try:
            return self._http.post(
                path, content=body(), headers={"Content-Type": "application/json"}, timeout=httpx.Timeout(limit)
            )
        except (httpx.ConnectTimeout, httpx.ConnectError) as e:  # nothing reached BSrE
            return _Outage(f"koneksi gagal: {type(e).__name__}")
        except httpx.TimeoutException:
            return _Outage(f"tidak ada jawaban dalam {limit:g} detik", sent=True)
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as e:
            return _Outage(f"koneksi terputus: {type(e).__name__}", sent=True)
        except (httpx.HTTPError, httpx.InvalidURL) as e:  # a URL, scheme or protocol that cannot work at all
            fault = type(e).__name__
        raise EsignRejected(
            f"Alamat layanan BSrE tidak dapat dipakai ({fault}); periksa pengaturan alamat BSrE. "
            "Ini kesalahan konfigurasi aplikasi; hubungi administrator."
        )

    def _classify(
        self, response: httpx.Response, *, success_key: str, nik: str, secret: _Secret | None, what: str
    ) -> _Outage | None:
        """None for an answer to read on (HTTP 200 with ``success_key``); an :class:`_Outage` to try again; raises
        for BSrE's application errors and anything else it refused. BSrE's code and text come before the HTTP
        status: a wrong passphrase answered with HTTP 500 is still a wrong passphrase, never retried."""
        answer = _json(response)
        status = response.status_code
        if status == 200 and isinstance(answer, dict) and success_key in answer:
            return None
        bsre_code, bsre_text = _error_of(answer)
        quoted = _clean(bsre_text, nik, secret)
        if bsre_code in WRONG_PASSPHRASE_CODES or (bsre_text and _PASSPHRASE_TEXT.search(bsre_text)):
            log.info("BSrE refused the passphrase for NIK %s (HTTP %d)", mask_nik(nik), status)
            raise WrongPassphrase(
                "Passphrase tanda tangan elektronik salah. Periksa kembali lalu coba lagi; salah berulang kali dapat "
                "membuat sertifikat elektronik Anda terkunci sementara.",
                http_status=status,
                bsre_code=bsre_code,
                bsre_message=quoted,
            )
        if bsre_code in NOT_REGISTERED_CODES or (bsre_text and _NOT_REGISTERED_TEXT.search(bsre_text)):
            log.info("BSrE: NIK %s not registered or without a certificate (HTTP %d)", mask_nik(nik), status)
            raise SignerNotRegistered(
                f"NIK {mask_nik(nik)} belum terdaftar di BSrE atau sertifikat elektroniknya belum terbit "
                f"({_quote(bsre_code, quoted)}). Hubungi pengelola sertifikat elektronik (admin TTE) di kabupaten.",
                http_status=status,
                bsre_code=bsre_code,
                bsre_message=quoted,
            )
        if status >= 500 or status in UNAVAILABLE_HTTP:
            return _Outage(f"HTTP {status}", http_status=status, retry_after=_retry_after(response))
        raise self._rejected(
            response,
            answer,
            nik=nik,
            secret=secret,
            what=what,
            detail="jawaban tidak dikenal" if status == 200 else None,
        )

    # -- reading answers

    def _signed_pdf(self, response: httpx.Response, *, nik: str, secret: _Secret) -> bytes:
        answer = _json(response)
        files = answer.get("file") if isinstance(answer, dict) else None
        signed: bytes | None = None
        if isinstance(files, list) and len(files) == 1 and isinstance(files[0], str):
            try:
                signed = base64.b64decode(files[0], validate=True)
            except (binascii.Error, ValueError):
                signed = None
        if signed is None or not signed.startswith(b"%PDF-"):
            raise self._rejected(
                response,
                answer,
                nik=nik,
                secret=secret,
                what="penandatanganan",
                detail="jawaban tanpa PDF bertanda tangan",
            )
        return signed

    def _rejected(
        self,
        response: httpx.Response,
        answer: Any,
        *,
        nik: str,
        secret: _Secret | None,
        what: str,
        detail: str | None = None,
    ) -> EsignRejected:
        bsre_code, bsre_text = _error_of(answer)
        text = _clean(bsre_text, nik, secret)
        status = response.status_code
        if status in (401, 403):
            cause = "ID klien atau kata sandi aplikasi untuk BSrE ditolak"
        else:
            cause = detail or "permintaan ditolak"
        log.warning(
            "BSrE rejected %s for NIK %s: HTTP %d, code %s, %s",
            response.request.url.path,
            mask_nik(nik),
            status,
            bsre_code,
            text or detail or "no message",
        )
        return EsignRejected(
            f"Layanan BSrE menolak permintaan {what}: {cause} (HTTP {status}, {_quote(bsre_code, text)}). "
            "Ini kesalahan konfigurasi aplikasi, bukan kesalahan Anda; hubungi administrator.",
            http_status=status,
            bsre_code=bsre_code,
            bsre_message=text,
        )

    @staticmethod
    def _check_nik(nik: str) -> None:
        if not isinstance(nik, str) or not _NIK.match(nik):
            raise SignerNotRegistered("NIK penanda tangan tidak sah: harus 16 angka. Periksa NIK pada profil Camat.")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _error_of(answer: Any) -> tuple[int | str | None, str | None]:
    """BSrE's error code and text in an answer: ``status_code`` and ``error`` or ``message`` (deployments
    differ). A code that is a number in a string becomes an int; Spring's own ``status`` (an HTTP status) is not
    a BSrE code."""
    if not isinstance(answer, dict):
        return None, None
    code = answer.get("status_code")
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    if not isinstance(code, (int, str)) or isinstance(code, bool):
        code = None
    text = answer.get("error")
    if not isinstance(text, str) or not text.strip():
        text = answer.get("message")
    return code, text.strip() if isinstance(text, str) and text.strip() else None


def _clean(text: str | None, nik: str, secret: _Secret | None) -> str | None:
    """BSrE's own message made safe to quote: the passphrase and the NIK out (should it echo them), one line,
    at most MESSAGE_LIMIT characters."""
    if not text:
        return None
    if secret is not None and secret.reveal():
        text = text.replace(secret.reveal(), "***")
    text = text.replace(nik, mask_nik(nik))
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _quote(code: int | str | None, text: str | None) -> str:
    parts = [f"kode {code}" if code is not None else "tanpa kode BSrE", f'"{text}"' if text else "tanpa pesan"]
    return ", ".join(parts)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff is used


__all__ = [
    "ACTIVE_STATUS",
    "Appearance",
    "BsreClient",
    "BsreSettings",
    "EsignError",
    "EsignRejected",
    "EsignUnavailable",
    "SignerNotRegistered",
    "WrongPassphrase",
    "mask_nik",
]
