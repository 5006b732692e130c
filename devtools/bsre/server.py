"""The local stand-in for BSrE's esign client service (API v2): an HTTP server that answers the requests of
:class:`services.letters.adapters.bsre.BsreClient` in the shapes publicly described (see that module for what is
and is not confirmed), and signs for real with pyHanko: PAdES (``/ETSI.CAdES.detached``, SHA-256, level B-B), a
new signature field per signature, appended as an incremental update, with a certificate its own CA issued to
the registered user. Development and tests only: anyone who reaches it and knows the passphrase of a fake user
gets a signature, and the CA's key sits in the folder next to its certificates.

Routes (``/api/v2/*`` want HTTP Basic with the configured client id and secret, else HTTP 401 in Spring's shape
``{"timestamp", "status": 401, "error": "Unauthorized", "path"}``):

* ``POST /api/v2/sign/pdf`` ``{"nik", "passphrase", "signatureProperties": [...], "file": [<b64>...]}`` ->
  ``{"file": [<signed b64>...], "time": <ms>}``. Refusals, HTTP 400 ``{"status_code", "error"}``: a malformed
  body (``status_code`` 400, the fake's own choice), unknown NIK (2011 "User tidak terdaftar"), a user whose
  status is not ``ISSUE`` (2021, the fake's choice after the code public reports give for ``NO_CERTIFICATE``),
  wrong passphrase (2031 "Passphrase anda salah"). A file that is not a readable PDF: HTTP 500, as BSrE is
  reported to answer. One ``signatureProperties`` entry serves every file, or one per file.
  ``VISIBLE``: a text stamp (and the ``imageBase64`` PNG behind it, when given) in the box ``originX``,
  ``originY`` (bottom-left corner, PDF points, origin at the page's bottom-left: the convention the client assumes),
  ``width``, ``height`` on ``page`` (1-based).
* ``POST /api/v2/user/check/status`` ``{"nik"}`` -> ``{"status_code", "status", "message"}``: ``ISSUE`` (code
  1111, a placeholder) or the user's status; ``NOT_REGISTERED`` (2011) for an unknown NIK. HTTP 200 either way.
* ``POST /api/v2/verify/pdf`` ``{"file"}`` -> ``{"conclusion": "VALID" | "INVALID" | "NO_SIGNATURE",
  "signatureCount", "description", "signatureInformations": [{"fieldName", "signerName", "signatureDate",
  "reason", "location", "integrityValid", "certificateTrusted", "signatureFormat", ...}]}`` (keys as public
  reports show BSrE's; checked against this fake's CA only).

For people and tests: ``GET /ca.crt`` (the root, PEM: what the letters service must trust for these signatures),
``GET /dev/bsre`` (counts: requests, per endpoint, files signed, refusals by kind, mode), ``POST /dev/bsre/users``
(``{"nik", "name", "passphrase", "status"?}``: register or replace a user) and ``POST /dev/bsre/control``
(``{"mode": "error503" | "timeout" | "ok", "times": n, "wrong_passphrase_http": 400 | 500}``: answer the next n
``/api/v2`` requests, or all until changed, with HTTP 503 or no answer for a minute; and a wrong passphrase with
HTTP 500, as some deployments are reported to). Passphrases are never logged nor echoed.

:class:`BsreServer` runs it in a thread of the calling process (tests); ``devtools.bsre.main`` until SIGTERM
(``pengaduan devbsre``)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import io
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, Literal

import uvicorn
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from services.letters.adapters.bsre import mask_nik
from services.letters.adapters.development_ca import DOCUMENT_SIGNING_EKU, _FileLock, _write_atomically
from services.letters.adapters.signing import load_asn1_certs, load_certs, load_key, pem_cert, pem_key, run_coroutine

log = logging.getLogger(__name__)

CA_COMMON_NAME = "pengaduan Development BSrE CA"
ORGANISATION = "pengaduan (development)"
CA_VALIDITY = timedelta(days=3652)
SIGNER_VALIDITY = timedelta(days=730)
RENEW_BEFORE = timedelta(days=30)
NOTICE = "Tanda tangan uji coba (BSrE tiruan, bukan BSrE)"
HOLD_SECONDS = 60.0  # "timeout": longer than any client waits
DEV_USERNAME, DEV_PASSWORD = "pengaduan-dev", "rahasia-bsre-dev"
# codes as public integrations show them (2011, 2031) or as this fake chose them (see the module's docstring)
CODE_ISSUE, CODE_NOT_REGISTERED, CODE_NO_CERTIFICATE, CODE_WRONG_PASSPHRASE, CODE_INVALID = 1111, 2011, 2021, 2031, 400

Mode = Literal["ok", "error503", "timeout"]
_NIK = re.compile(r"^\d{16}$")


@dataclass(frozen=True)
class FakeUser:
    """A signer registered at the fake BSrE: name (the certificate's CN), passphrase, status (``ISSUE`` signs)."""

    name: str
    passphrase: str = field(repr=False)
    status: str = "ISSUE"


# A demo Camat for `make run` when no users file is given: a made-up NIK in Pamekasan's (35.28) range.
DEMO_USERS: dict[str, FakeUser] = {
    "3528071204780001": FakeUser("Drs. H. Moh. Ma'ruf, M.Si.", "rahasia-bsre-123"),
}


def load_users(path: Path) -> dict[str, FakeUser]:
    """Users from a JSON file: a list of ``{"nik", "name", "passphrase", "status"?}`` or an object ``{nik:
    {"name", "passphrase", "status"?}}``. Raises ``ValueError`` on anything else."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = [{"nik": nik, **entry} for nik, entry in data.items()] if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list or an object of users")
    users: dict[str, FakeUser] = {}
    for entry in entries:
        try:
            user = UserRequest.model_validate(entry)
        except ValidationError as e:
            raise ValueError(f"{path}: a user entry is not valid: {_fields_of(e)}") from None
        users[user.nik] = user.fake_user()
    return users


class UserRequest(BaseModel):
    nik: str = Field(pattern=r"^\d{16}$")
    name: str = Field(min_length=1, max_length=200)
    passphrase: str = Field(min_length=1, max_length=200)
    status: str = Field("ISSUE", min_length=1, max_length=40)

    def fake_user(self) -> FakeUser:
        return FakeUser(self.name, self.passphrase, self.status.upper())


class ControlRequest(BaseModel):
    mode: Mode = "ok"
    times: int | None = Field(
        None, ge=1, description="Requests that get this mode, then back to ok; null: until changed"
    )
    wrong_passphrase_http: Literal[400, 500] | None = Field(
        None, description="The HTTP status of a wrong-passphrase answer from now on (some deployments say 500)"
    )


def _fields_of(error: ValidationError) -> str:
    """Which fields and why, never the input (it may be a passphrase)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())


# --------------------------------------------------------------------------- the fake's CA


@dataclass(frozen=True)
class _Signer:
    key_pem: bytes
    cert_pem: bytes


class BsreCA:
    """The fake BSrE's certificate authority, kept in a folder: ``ca.key``/``ca.crt`` (RSA 2048, 10 years, CN
    ``pengaduan Development BSrE CA``, O ``pengaduan (development)``) and per user ``signers/<nik>.key|.crt``
    (RSA 2048, 2 years; subject ``C=ID, O=pengaduan (development), CN=<name>, serialNumber=NIK:<nik>``;
    keyUsage digitalSignature + nonRepudiation, critical; extendedKeyUsage documentSigning + emailProtection).
    Made on first use; a user's certificate is issued afresh when the name changed, it nears expiry or another
    CA issued it. Keys 0600, the folder 0700 when created here; creation under an flock, files written atomically
    (as the development CA of services/letters does)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[tuple[str, str], _Signer] = {}
        self._lock = threading.Lock()

    def root_pem(self) -> bytes:
        with self._locked():
            _, cert = self._ensure_ca()
        return pem_cert(cert)

    def signer(self, nik: str, name: str) -> _Signer:
        with self._lock:
            found = self._cache.get((nik, name))
            if found is not None and not self._stale(found):
                return found
        with self._locked():
            ca_key, ca_cert = self._ensure_ca()
            folder = self.folder / "signers"
            folder.mkdir(mode=0o700, exist_ok=True)
            key_path, crt_path = folder / f"{nik}.key", folder / f"{nik}.crt"
            if key_path.exists():
                key = load_key(key_path.read_bytes(), None, str(key_path))
            else:
                key = rsa.generate_private_key(65537, 2048)
                _write_atomically(key_path, pem_key(key), 0o600)
            cert = load_certs(crt_path.read_bytes(), str(crt_path))[0] if crt_path.exists() else None
            if cert is None or not self._current(cert, ca_cert, key, nik, name):
                cert = self._issue(ca_key, ca_cert, key, nik, name)
                _write_atomically(crt_path, pem_cert(cert), 0o644)
                log.info("fake BSrE CA issued a signing certificate for NIK %s", mask_nik(nik))
            signer = _Signer(pem_key(key), pem_cert(cert))
        with self._lock:
            self._cache[(nik, name)] = signer
        return signer

    # -- internals

    def _locked(self) -> _FileLock:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _FileLock(self.folder / ".lock")

    @staticmethod
    def _stale(signer: _Signer) -> bool:
        cert = x509.load_pem_x509_certificate(signer.cert_pem)
        return cert.not_valid_after_utc - RENEW_BEFORE < datetime.now(UTC)

    @staticmethod
    def _current(cert: x509.Certificate, ca_cert: x509.Certificate, key: Any, nik: str, name: str) -> bool:
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            return False
        if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - RENEW_BEFORE < datetime.now(UTC):
            return False
        if cert.subject != _subject(nik, name):
            return False
        try:
            cert.verify_directly_issued_by(ca_cert)
        except Exception:  # InvalidSignature: another CA of the same name
            return False
        return True

    def _ensure_ca(self) -> tuple[Any, x509.Certificate]:
        """Under the lock: the CA's key and certificate, made when missing or not a pair."""
        key_path, crt_path = self.folder / "ca.key", self.folder / "ca.crt"
        if key_path.exists() and crt_path.exists():
            key = load_key(key_path.read_bytes(), None, str(key_path))
            cert = load_certs(crt_path.read_bytes(), str(crt_path))[0]
            spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            if key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki):
                return key, cert
            log.warning("fake BSrE CA: %s does not match %s; making a new CA", key_path, crt_path)
        key = rsa.generate_private_key(65537, 2048)
        _write_atomically(key_path, pem_key(key), 0o600)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_atomically(crt_path, pem_cert(cert), 0o644)
        log.info("fake BSrE CA created in %s", self.folder)
        return key, cert

    @staticmethod
    def _issue(ca_key: Any, ca_cert: x509.Certificate, key: Any, nik: str, name: str) -> x509.Certificate:
        now = datetime.now(UTC)
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(_subject(nik, name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + SIGNER_VALIDITY, ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256())
        )


def _subject(nik: str, name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, " ".join(name.split())[:64]),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"NIK:{nik}"),
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, content_commitment: bool = False, key_cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --------------------------------------------------------------------------- signing and verifying


class _Refusal(Exception):
    """An answer other than success: HTTP status and body."""

    def __init__(self, http_status: int, code: int, error: str, kind: str) -> None:
        super().__init__(error)
        self.http_status, self.code, self.error, self.kind = http_status, code, error, kind

    def response(self) -> JSONResponse:
        return JSONResponse({"status_code": self.code, "error": self.error}, status_code=self.http_status)


def _invalid(error: str) -> _Refusal:
    return _Refusal(400, CODE_INVALID, error, "invalid")


@dataclass(frozen=True)
class _Properties:
    visible: bool
    page: int = 1
    box: tuple[float, float, float, float] | None = None
    image_png: bytes | None = None
    reason: str | None = None
    location: str | None = None
    contact_info: str | None = None


def _properties(entry: Any) -> _Properties:
    if not isinstance(entry, dict):
        raise _invalid("signatureProperties harus berisi objek")
    tampilan = str(entry.get("tampilan", "")).upper()
    if tampilan not in ("VISIBLE", "INVISIBLE"):
        raise _invalid("tampilan harus VISIBLE atau INVISIBLE")
    reason, location, contact_info = (
        entry.get(k) if isinstance(entry.get(k), str) else None for k in ("reason", "location", "contactInfo")
    )
    if tampilan == "INVISIBLE":
        return _Properties(visible=False, reason=reason, location=location, contact_info=contact_info)
    numbers = {}
    for key in ("page", "originX", "originY", "width", "height"):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid(f"{key} wajib berupa angka untuk tampilan VISIBLE")
        numbers[key] = float(value)
    if (
        numbers["page"] < 1
        or numbers["page"] != int(numbers["page"])
        or numbers["width"] <= 0
        or numbers["height"] <= 0
    ):
        raise _invalid("page, width atau height tidak sah")
    image = None
    if entry.get("imageBase64"):
        try:
            image = base64.b64decode(str(entry["imageBase64"]), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("imageBase64 bukan base64") from None
    x, y = numbers["originX"], numbers["originY"]
    box = (x, y, x + numbers["width"], y + numbers["height"])
    return _Properties(
        visible=True,
        page=int(numbers["page"]),
        box=box,
        image_png=image,
        reason=reason,
        location=location,
        contact_info=contact_info,
    )


def _signer(signer: _Signer) -> Any:
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = load_key(signer.key_pem, None, "fake BSrE signer")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    [cert] = load_asn1_certs([signer.cert_pem])
    return SimpleSigner(
        signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(der), cert_registry=SimpleCertificateStore()
    )


async def _sign_one(pdf: bytes, pyhanko_signer: Any, props: _Properties) -> bytes:
    """One PDF signed: PAdES, a new field ``Signature<n>``, incremental; visible per ``props``."""
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
    from pyhanko.stamp import TextStampStyle

    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        pages = int(writer.prev.root["/Pages"]["/Count"])
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
    except Exception as e:
        raise _Refusal(500, 500, "Dokumen tidak dapat dibaca", "unreadable") from e
    if props.page > pages:
        raise _invalid(f"page {props.page} melebihi jumlah halaman ({pages})")
    field_name = next(f"Signature{n}" for n in count(1) if f"Signature{n}" not in existing)
    background = None
    if props.image_png:
        from PIL import Image

        try:
            background = PdfImage(Image.open(io.BytesIO(props.image_png)))
        except Exception:
            raise _invalid("imageBase64 bukan gambar yang dapat dibaca") from None
    meta = PdfSignatureMetadata(
        field_name=field_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=props.reason,
        location=props.location,
        contact_info=props.contact_info,
    )
    style = TextStampStyle(
        stamp_text=f"Ditandatangani secara elektronik oleh\n%(signer)s\n%(ts)s\n{NOTICE}",
        border_width=1,
        background=background,
    )
    pdf_signer = PdfSigner(
        meta,
        signer=pyhanko_signer,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=field_name,
            on_page=props.page - 1,
            box=props.box if props.visible else None,  # type: ignore[arg-type]  # pyHanko takes floats too
        ),
    )
    out: io.BytesIO = await pdf_signer.async_sign_pdf(writer, output=io.BytesIO())
    return out.getvalue()


async def _verify(pdf: bytes, root_pem: bytes) -> dict[str, Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = list(reader.embedded_signatures)
    except Exception as e:
        raise _Refusal(500, 500, "Dokumen tidak dapat dibaca", "unreadable") from e
    infos = []
    for sig in signatures:
        context = ValidationContext(trust_roots=load_asn1_certs([root_pem]), allow_fetching=False)
        status = await async_validate_pdf_signature(sig, context)
        cert = status.signing_cert
        infos.append(
            {
                "id": sig.field_name,
                "fieldName": sig.field_name,
                "signerName": cert.subject.native.get("common_name") if cert is not None else None,
                "signatureDate": sig.self_reported_timestamp.isoformat() if sig.self_reported_timestamp else None,
                "reason": _text_of(sig.sig_object.get("/Reason")),
                "location": _text_of(sig.sig_object.get("/Location")),
                "integrityValid": bool(status.intact and status.valid),
                "certificateTrusted": bool(status.trusted),
                "signatureFormat": "PAdES-BASELINE-B",
                "ltv": False,
            }
        )
    if not infos:
        conclusion, description = "NO_SIGNATURE", "Dokumen tidak memiliki tanda tangan elektronik"
    elif all(i["integrityValid"] and i["certificateTrusted"] for i in infos):
        conclusion, description = "VALID", "Dokumen valid"
    else:
        conclusion, description = "INVALID", "Ada tanda tangan yang tidak valid atau tidak dipercaya"
    return {
        "conclusion": conclusion,
        "description": description,
        "signatureCount": len(infos),
        "signatureInformations": infos,
    }


def _text_of(value: Any) -> str | None:
    return str(value) if value is not None else None


# --------------------------------------------------------------------------- state and the app


@dataclass
class _State:
    """What the server counts, its users and how it is told to behave, shared by the request handlers."""

    users: dict[str, FakeUser]
    requests: int = 0  # every /api/v2 request
    by_endpoint: Counter[str] = field(default_factory=Counter)
    signed: int = 0  # files
    refused: Counter[str] = field(default_factory=Counter)
    mode: str = "ok"
    times: int | None = None
    wrong_passphrase_http: int = 400
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, endpoint: str) -> str:
        """Count a request; the mode it gets."""
        with self.lock:
            self.requests += 1
            self.by_endpoint[endpoint] += 1
            mode = self.mode
            if mode != "ok" and self.times is not None:
                self.times -= 1
                if self.times <= 0:
                    self.mode, self.times = "ok", None
            if mode != "ok":
                self.refused["unavailable"] += 1
            return mode

    def control(self, order: ControlRequest) -> None:
        with self.lock:
            self.mode, self.times = order.mode, order.times if order.mode != "ok" else None
            if order.wrong_passphrase_http is not None:
                self.wrong_passphrase_http = order.wrong_passphrase_http

    def refuse(self, kind: str) -> None:
        with self.lock:
            self.refused[kind] += 1

    def user(self, nik: str) -> FakeUser | None:
        with self.lock:
            return self.users.get(nik)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "sign_requests": self.by_endpoint["sign"],
                "status_requests": self.by_endpoint["status"],
                "verify_requests": self.by_endpoint["verify"],
                "signed": self.signed,
                "refused": dict(self.refused),
                "mode": self.mode,
                "wrong_passphrase_http": self.wrong_passphrase_http,
                "users": len(self.users),
            }


def build_app(ca: BsreCA, state: _State, username: str, password: str) -> FastAPI:
    app = FastAPI(title="pengaduan devbsre", docs_url=None, redoc_url=None, openapi_url=None)
    expected = base64.b64encode(f"{username}:{password}".encode()).decode()
    root_pem = ca.root_pem()

    async def admitted(request: Request, endpoint: str) -> Response | None:
        """The answer that ends this request before its work (a control mode, bad client credentials), or None."""
        mode = state.begin(endpoint)
        if mode == "timeout":
            await asyncio.sleep(HOLD_SECONDS)
            return Response(status_code=504)
        if mode == "error503":
            return JSONResponse({"status_code": 503, "error": "Service Unavailable"}, status_code=503)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not hmac.compare_digest(credentials.strip(), expected):
            state.refuse("unauthorized")
            body = {
                "timestamp": datetime.now(UTC).isoformat(),
                "status": 401,
                "error": "Unauthorized",
                "path": request.url.path,
            }
            return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="esign"'})
        return None

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise _invalid("badan permintaan bukan JSON") from None
        if not isinstance(data, dict):
            raise _invalid("badan permintaan harus objek JSON")
        return data

    @app.post("/api/v2/sign/pdf")
    async def sign(request: Request) -> Response:
        started = time.monotonic()
        early = await admitted(request, "sign")
        if early is not None:
            return early
        nik = "-"
        try:
            data = await body_of(request)
            if isinstance(data.get("nik"), str) and _NIK.match(data["nik"]):
                nik = data["nik"]
            nik, files, props = _sign_request(data)
            user = state.user(nik)
            if user is None:
                raise _Refusal(400, CODE_NOT_REGISTERED, "User tidak terdaftar", "not_registered")
            if user.status != "ISSUE":
                raise _Refusal(
                    400, CODE_NO_CERTIFICATE, f"Sertifikat user tidak aktif ({user.status})", "no_certificate"
                )
            passphrase = data.get("passphrase")
            if not isinstance(passphrase, str) or not hmac.compare_digest(
                passphrase.encode(), user.passphrase.encode()
            ):
                raise _Refusal(
                    state.wrong_passphrase_http, CODE_WRONG_PASSPHRASE, "Passphrase anda salah", "wrong_passphrase"
                )
            signer = await asyncio.to_thread(ca.signer, nik, user.name)
            signed = await asyncio.to_thread(run_coroutine, lambda: _sign_all(files, props, signer, root_pem))
        except _Refusal as refusal:
            state.refuse(refusal.kind)
            log.info("refused a signing for NIK %s: %s", mask_nik(nik) if nik != "-" else nik, refusal.kind)
            return refusal.response()
        with state.lock:
            state.signed += len(signed)
        log.info("signed %d file(s) for NIK %s", len(signed), mask_nik(nik))
        return JSONResponse(
            {
                "file": [base64.b64encode(s).decode("ascii") for s in signed],
                "time": int((time.monotonic() - started) * 1000),
            }
        )

    @app.post("/api/v2/user/check/status")
    async def user_status(request: Request) -> Response:
        early = await admitted(request, "status")
        if early is not None:
            return early
        try:
            data = await body_of(request)
        except _Refusal as refusal:
            state.refuse(refusal.kind)
            return refusal.response()
        nik = data.get("nik")
        user = state.user(nik) if isinstance(nik, str) else None
        if user is None:
            return JSONResponse(
                {"status_code": CODE_NOT_REGISTERED, "status": "NOT_REGISTERED", "message": "User tidak terdaftar"}
            )
        if user.status == "ISSUE":
            return JSONResponse({"status_code": CODE_ISSUE, "status": "ISSUE", "message": "Sertifikat aktif"})
        return JSONResponse(
            {"status_code": CODE_NO_CERTIFICATE, "status": user.status, "message": "Sertifikat tidak aktif"}
        )

    @app.post("/api/v2/verify/pdf")
    async def verify(request: Request) -> Response:
        early = await admitted(request, "verify")
        if early is not None:
            return early
        try:
            data = await body_of(request)
            pdf = _pdf_of(data.get("file"))
            summary = await asyncio.to_thread(run_coroutine, lambda: _verify(pdf, root_pem))
        except _Refusal as refusal:
            state.refuse(refusal.kind)
            return refusal.response()
        return JSONResponse(summary)

    @app.get("/ca.crt")
    def certificate() -> Response:
        return Response(root_pem, media_type="application/x-pem-file")

    @app.get("/dev/bsre")
    def stats() -> JSONResponse:
        return JSONResponse(state.snapshot())

    @app.post("/dev/bsre/users")
    async def add_user(request: Request) -> JSONResponse:
        try:
            user = UserRequest.model_validate_json(await request.body())
        except ValidationError as e:
            return JSONResponse({"status_code": CODE_INVALID, "error": _fields_of(e)}, status_code=400)
        with state.lock:
            state.users[user.nik] = user.fake_user()
        log.info("registered the fake BSrE user NIK %s", mask_nik(user.nik))
        return JSONResponse({"nik": user.nik, "name": user.name, "status": user.status.upper()}, status_code=201)

    @app.post("/dev/bsre/control")
    def control(body: ControlRequest) -> JSONResponse:
        state.control(body)
        return JSONResponse(body.model_dump())

    return app


def _sign_request(data: dict[str, Any]) -> tuple[str, list[bytes], list[_Properties]]:
    """The NIK, the PDFs and each PDF's signature properties, or a refusal that says which field is wrong."""
    nik = data.get("nik")
    if not isinstance(nik, str) or not nik:
        raise _invalid("nik wajib diisi")
    if not isinstance(data.get("passphrase"), str) or not data["passphrase"]:
        raise _invalid("passphrase wajib diisi")
    raw_files = data.get("file")
    if not isinstance(raw_files, list) or not raw_files:
        raise _invalid("file wajib berisi minimal satu dokumen")
    files = [_pdf_of(f) for f in raw_files]
    entries = data.get("signatureProperties")
    if not isinstance(entries, list) or not entries:
        raise _invalid("signatureProperties wajib diisi")
    props = [_properties(e) for e in entries]
    if len(props) == 1:
        props = props * len(files)
    elif len(props) != len(files):
        raise _invalid("jumlah signatureProperties harus satu atau sama dengan jumlah file")
    return nik, files, props


def _pdf_of(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise _invalid("file wajib berupa PDF dalam base64")
    try:
        pdf = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("file bukan base64") from None
    if not pdf.startswith(b"%PDF-"):
        raise _Refusal(500, 500, "Dokumen tidak dapat dibaca", "unreadable")
    return pdf


async def _sign_all(files: list[bytes], props: list[_Properties], signer: _Signer, root_pem: bytes) -> list[bytes]:
    pyhanko_signer = _signer(signer)
    [root] = load_asn1_certs([root_pem])
    pyhanko_signer.cert_registry.register(root)
    return [await _sign_one(pdf, pyhanko_signer, p) for pdf, p in zip(files, props, strict=True)]


# --------------------------------------------------------------------------- the server in a thread


class BsreServer:
    """The fake BSrE in a thread of this process: ``with BsreServer(folder) as bsre: bsre.url ...``."""

    def __init__(
        self,
        folder: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: dict[str, FakeUser] | None = None,
        username: str = DEV_USERNAME,
        password: str = DEV_PASSWORD,
    ) -> None:
        self.folder = Path(folder)
        self.host, self._port = host, port
        self.username, self.password = username, password
        self.ca = BsreCA(self.folder)
        self.state = _State(users=dict(DEMO_USERS if users is None else users))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"BsreServer(folder={str(self.folder)!r}, url={self.base_url!r})"

    def start(self) -> BsreServer:
        sock = socket.create_server((self.host, self._port))
        self._port = sock.getsockname()[1]
        try:
            config = uvicorn.Config(
                build_app(self.ca, self.state, self.username, self.password),
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(
                target=self._server.run, kwargs={"sockets": [sock]}, name="devbsre-http", daemon=True
            )
            self._thread.start()
            deadline = time.monotonic() + 10
            while not self._server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the fake BSrE did not start")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            sock.close()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._server = None

    def __enter__(self) -> BsreServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self._port}"

    @property
    def url(self) -> str:
        """The base URL a client is configured with (it appends ``/api/v2/...``)."""
        return self.base_url

    def root_pem(self) -> bytes:
        """The fake's root certificate (PEM): what the letters service must trust for its signatures."""
        return self.ca.root_pem()

    def add_user(self, nik: str, user: FakeUser) -> None:
        if not _NIK.match(nik):
            raise ValueError("a NIK is 16 digits")
        with self.state.lock:
            self.state.users[nik] = user

    def counts(self) -> dict[str, Any]:
        """As ``GET /dev/bsre``."""
        return self.state.snapshot()

    def control(
        self, mode: Mode, times: int | None = None, *, wrong_passphrase_http: Literal[400, 500] | None = None
    ) -> None:
        """Answer the next ``times`` ``/api/v2`` requests (None: all, until changed) with ``mode``; and, when
        given, answer a wrong passphrase with that HTTP status from now on."""
        self.state.control(ControlRequest(mode=mode, times=times, wrong_passphrase_http=wrong_passphrase_http))


__all__ = ["DEMO_USERS", "BsreCA", "BsreServer", "FakeUser", "build_app", "load_users"]
