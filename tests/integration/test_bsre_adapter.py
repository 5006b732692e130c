"""Signing through the national e-signature service: the BSrE client (services/letters/adapters/bsre.py) against
the local fake of devtools/bsre over real HTTP. A signed PDF that verifies with pyHanko against the fake's root,
keeps our bytes as its prefix and shows the signature in the box asked for; a wrong passphrase refused after one
request and never retried (also when answered with HTTP 500); an unknown or inactive signer; refused client
credentials; the service down for a moment (signed on the third try, exactly one letter) or for good (given up
after the configured attempts, a timeout too); the passphrase in no exception, traceback frame or log record."""

from __future__ import annotations

import base64
import io
import logging
import socket
import stat
import time
import traceback

import httpx
import pytest
from PIL import Image
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from devtools.bsre.server import CA_COMMON_NAME, BsreServer, FakeUser
from services.letters.adapters.bsre import (
    Appearance,
    BsreClient,
    BsreSettings,
    EsignError,
    EsignRejected,
    EsignUnavailable,
    SignerNotRegistered,
    WrongPassphrase,
)

CAMAT_NIK, CAMAT_NAME, PASSPHRASE = "3528071204780001", "Drs. H. Moh. Ma'ruf, M.Si.", "Rahasia-Camat-#7731"
WRONG = "Salah-Sekali-#4410"
EXPIRED_NIK = "3528070101700002"
UNKNOWN_NIK = "3528079999990009"


def letter_pdf(pages: int = 2) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for n in range(1, pages + 1):
        c.drawString(72, 720, f"Nomor: 000.8.3.4/12/432.407/2026 halaman {n}")
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def bsre(tmp_path_factory):
    users = {
        CAMAT_NIK: FakeUser(CAMAT_NAME, PASSPHRASE),
        EXPIRED_NIK: FakeUser("Sekcam Kedaluwarsa", PASSPHRASE, status="EXPIRED"),
    }
    with BsreServer(tmp_path_factory.mktemp("bsre"), users=users) as server:
        yield server


@pytest.fixture(autouse=True)
def healthy(bsre):
    """Every test starts and ends with the service answering normally."""
    bsre.control("ok", wrong_passphrase_http=400)
    yield
    bsre.control("ok", wrong_passphrase_http=400)


def client(bsre: BsreServer, **kw) -> BsreClient:
    settings = {"timeout": 10.0, "attempts": 3, **kw}
    return BsreClient(BsreSettings(bsre.url, bsre.username, bsre.password, **settings))


def counts(bsre: BsreServer) -> dict:
    return httpx.get(f"{bsre.url}/dev/bsre").json()


def control(bsre: BsreServer, **order) -> None:
    httpx.post(f"{bsre.url}/dev/bsre/control", json=order).raise_for_status()


def sign(c: BsreClient, pdf: bytes | None = None, *, nik: str = CAMAT_NIK, passphrase: str = PASSPHRASE, **kw) -> bytes:
    return c.sign_pdf(
        pdf or letter_pdf(),
        nik=nik,
        passphrase=passphrase,
        reason="Surat tanggapan pengaduan",
        location="Pegantenan",
        **kw,
    )


def widgets(signed: bytes) -> list[tuple[int, list[float], object]]:
    """(page number, /Rect, appearance) of each signature widget."""
    found = []
    for number, page in enumerate(PdfReader(io.BytesIO(signed)).pages, start=1):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            field = annot.get("/Parent", annot).get_object() if "/Parent" in annot else annot
            if field.get("/FT") == "/Sig":
                found.append((number, [float(v) for v in annot["/Rect"]], annot.get("/AP")))
    return found


# --------------------------------------------------------------------------- signing


def test_a_signed_letter_verifies_against_the_fake_bsre_root(bsre):
    root_pem = httpx.get(f"{bsre.url}/ca.crt").content
    assert root_pem == (bsre.folder / "ca.crt").read_bytes()
    before = counts(bsre)
    original = letter_pdf()
    with client(bsre) as c:
        signed = sign(c, original, appearance=Appearance(page=2, x=340.5, y=96.0, width=180.0, height=64.0))

    assert signed.startswith(original)  # an incremental update: our bytes untouched
    [sig] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    status = validate_pdf_signature(
        sig, ValidationContext(trust_roots=list(load_certs_from_pemder_data(root_pem)), allow_fetching=False)
    )
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert str(sig.sig_object["/Reason"]) == "Surat tanggapan pengaduan"
    assert str(sig.sig_object["/Location"]) == "Pegantenan"
    subject, issuer = status.signing_cert.subject.native, status.signing_cert.issuer.native
    assert subject["common_name"] == CAMAT_NAME and subject["serial_number"] == f"NIK:{CAMAT_NIK}"
    assert issuer["common_name"] == CA_COMMON_NAME
    assert {"digital_signature", "non_repudiation"} <= set(status.signing_cert.key_usage_value.native)

    [(page, rect, appearance)] = widgets(signed)
    assert page == 2
    assert rect == pytest.approx([340.5, 96.0, 520.5, 160.0])
    assert appearance is not None  # a visible stamp, drawn

    after = counts(bsre)
    assert after["sign_requests"] - before["sign_requests"] == 1
    assert after["signed"] - before["signed"] == 1


def test_invisible_without_an_appearance_and_a_second_signature_after_the_first(bsre):
    with client(bsre) as c:
        once = sign(c)
        twice = sign(c, once, appearance=Appearance(page=1, x=72, y=72, width=150, height=50))
    assert twice.startswith(once)
    found = widgets(twice)
    assert [(p, r) for p, r, _ in found] == [(1, [0.0, 0.0, 0.0, 0.0]), (1, [72.0, 72.0, 222.0, 122.0])]
    verdict = httpx.post(
        f"{bsre.url}/api/v2/verify/pdf",
        json={"file": base64.b64encode(twice).decode()},
        auth=(bsre.username, bsre.password),
    ).json()
    assert verdict["conclusion"] == "VALID" and verdict["signatureCount"] == 2
    assert {i["signerName"] for i in verdict["signatureInformations"]} == {CAMAT_NAME}


def test_the_specimen_image_is_drawn_in_the_box(bsre):
    png = io.BytesIO()
    Image.new("RGB", (40, 20), (0, 90, 160)).save(png, format="PNG")
    with client(bsre) as c:
        signed = sign(c, appearance=Appearance(page=1, x=300, y=80, width=120, height=60, image_png=png.getvalue()))
    [(_, _, appearance)] = widgets(signed)

    def images(obj, depth=0) -> int:
        obj = obj.get_object()
        if depth > 6 or not hasattr(obj, "get"):
            return 0
        if obj.get("/Subtype") == "/Image":
            return 1
        xobjects = (obj.get("/Resources") or {}).get("/XObject") or {}
        return sum(images(x, depth + 1) for x in xobjects.values())

    assert images(appearance["/N"]) == 1


# --------------------------------------------------------------------------- refusals


def test_a_wrong_passphrase_is_refused_after_exactly_one_request(bsre):
    before = counts(bsre)
    with client(bsre, attempts=3) as c, pytest.raises(WrongPassphrase) as caught:
        sign(c, passphrase=WRONG)
    after = counts(bsre)
    assert after["sign_requests"] - before["sign_requests"] == 1
    assert after["refused"].get("wrong_passphrase", 0) - before["refused"].get("wrong_passphrase", 0) == 1
    assert after["signed"] == before["signed"]
    assert caught.value.code == "wrong_passphrase" and caught.value.bsre_code == 2031
    assert "Passphrase" in str(caught.value) and "salah" in str(caught.value)


def test_a_wrong_passphrase_answered_with_http_500_is_not_retried(bsre):
    control(bsre, wrong_passphrase_http=500)
    before = counts(bsre)
    with client(bsre, attempts=3) as c, pytest.raises(WrongPassphrase) as caught:
        sign(c, passphrase=WRONG)
    assert counts(bsre)["sign_requests"] - before["sign_requests"] == 1
    assert caught.value.http_status == 500


def test_an_empty_passphrase_is_not_sent(bsre):
    before = counts(bsre)
    with client(bsre) as c, pytest.raises(WrongPassphrase):
        sign(c, passphrase="")
    assert counts(bsre)["requests"] == before["requests"]


@pytest.mark.parametrize("nik, bsre_code", [(UNKNOWN_NIK, 2011), (EXPIRED_NIK, 2021)])
def test_an_unknown_or_inactive_signer(bsre, nik, bsre_code):
    before = counts(bsre)
    with client(bsre) as c, pytest.raises(SignerNotRegistered) as caught:
        sign(c, nik=nik)
    assert counts(bsre)["sign_requests"] - before["sign_requests"] == 1
    assert caught.value.code == "signer_not_registered" and caught.value.bsre_code == bsre_code
    assert nik not in str(caught.value) and nik[-4:] in str(caught.value)  # masked


def test_a_nik_that_is_not_16_digits_is_not_sent(bsre):
    before = counts(bsre)
    with client(bsre) as c, pytest.raises(SignerNotRegistered):
        sign(c, nik="35280712047800")
    assert counts(bsre)["requests"] == before["requests"]


def test_refused_client_credentials_are_a_configuration_fault(bsre):
    before = counts(bsre)
    settings = BsreSettings(bsre.url, bsre.username, "not-the-secret", timeout=10.0, attempts=3)
    with BsreClient(settings) as c, pytest.raises(EsignRejected) as caught:
        sign(c)
    assert counts(bsre)["sign_requests"] - before["sign_requests"] == 1  # not retried
    assert caught.value.code == "esign_rejected" and caught.value.http_status == 401
    assert "HTTP 401" in str(caught.value) and "Unauthorized" in str(caught.value)


# --------------------------------------------------------------------------- the service away


def test_down_for_two_requests_then_signed_on_the_third(bsre):
    control(bsre, mode="error503", times=2)
    before = counts(bsre)
    with client(bsre, attempts=3) as c:
        signed = sign(c)
    assert signed.startswith(b"%PDF-")
    after = counts(bsre)
    assert after["sign_requests"] - before["sign_requests"] == 3
    assert after["signed"] - before["signed"] == 1  # exactly one signed letter


def test_down_for_good_gives_up_after_the_attempts(bsre):
    control(bsre, mode="error503")
    before = counts(bsre)
    with client(bsre, attempts=3) as c, pytest.raises(EsignUnavailable) as caught:
        sign(c)
    after = counts(bsre)
    assert after["sign_requests"] - before["sign_requests"] == 3
    assert after["signed"] == before["signed"]
    assert isinstance(caught.value, ConnectionError)  # a worker's retry treats it as transient
    assert caught.value.code == "esign_unavailable" and caught.value.http_status == 503
    assert "3 kali" in str(caught.value)


def test_no_answer_in_time_is_not_signed_again_behind_the_camats_back(bsre):
    """A signing that timed out may have been signed by BSrE: it is given up after that one try (the Camat tries
    again knowingly), while a status query, which signs nothing, is tried again."""
    control(bsre, mode="timeout", times=1)
    before = counts(bsre)
    started = time.monotonic()
    with client(bsre, timeout=0.3, attempts=3) as c, pytest.raises(EsignUnavailable) as caught:
        sign(c)
    elapsed = time.monotonic() - started
    assert counts(bsre)["sign_requests"] - before["sign_requests"] == 1
    assert elapsed < 0.3 + 1.5  # one timeout, not the server's minute, no backoff
    assert "tidak ada jawaban" in str(caught.value) and "1 kali" in str(caught.value)
    control(bsre, mode="timeout", times=1)
    with client(bsre, timeout=3.0, attempts=2) as c:
        assert c.user_status(CAMAT_NIK) == "ISSUE"  # the second try answered


def test_no_try_starts_past_the_callers_deadline(bsre):
    control(bsre, mode="error503", times=5)
    before = counts(bsre)
    started = time.monotonic()
    try:
        with client(bsre, timeout=5.0, attempts=5) as c, pytest.raises(EsignUnavailable):
            c.sign_pdf(
                letter_pdf(),
                nik=CAMAT_NIK,
                passphrase=PASSPHRASE,
                reason="r",
                location="l",
                deadline=time.monotonic() + 2.0,
            )
    finally:
        control(bsre, mode="ok")
    assert time.monotonic() - started < 2.5
    assert counts(bsre)["sign_requests"] - before["sign_requests"] < 5


def test_a_service_that_cannot_be_reached():
    with socket.socket() as s:  # a port taken and released: nothing listens there
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with (
        BsreClient(BsreSettings(url, "x", "y", timeout=2.0, attempts=2)) as c,
        pytest.raises(EsignUnavailable) as caught,
    ):
        c.user_status(CAMAT_NIK)
    assert "koneksi gagal" in str(caught.value)


# --------------------------------------------------------------------------- secrets


def _leaks(exc: BaseException, secrets: list[str]) -> list[str]:
    """Where a secret shows in an exception, its chain, or the locals of the adapter's frames in its traceback."""
    found = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts = [str(current), repr(current), repr(current.args), "".join(traceback.format_exception(current))]
        texts += [repr(v) for v in vars(current).values()]
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if frame.f_globals.get("__name__") == "services.letters.adapters.bsre":
                texts += [f"{name}={value!r}" for name, value in frame.f_locals.items()]
        found += [f"{type(current).__name__}: {s!r}" for s in secrets for t in texts if s in t]
        current = current.__cause__ or current.__context__
    return found


def test_the_passphrase_is_in_no_exception_and_no_log_record(bsre, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [PASSPHRASE, WRONG, bsre.password]
    raised: list[EsignError] = []
    with client(bsre, timeout=10.0, attempts=2) as c:  # signing takes its time on a busy machine
        sign(c)  # success, logged
        for passphrase, order in [(WRONG, None), (PASSPHRASE, {"mode": "error503"})]:
            control(bsre, **(order or {"mode": "ok"}))
            with pytest.raises(EsignError) as caught:
                sign(c, passphrase=passphrase)
            raised.append(caught.value)
        control(bsre, mode="ok")
    with client(bsre, timeout=0.3, attempts=2) as c:  # and no answer in time
        control(bsre, mode="timeout")
        with pytest.raises(EsignError) as caught:
            sign(c, passphrase=PASSPHRASE)
        raised.append(caught.value)
        control(bsre, mode="ok")
    settings = BsreSettings(bsre.url, bsre.username, "not-the-secret", timeout=10.0, attempts=1)
    with BsreClient(settings) as c, pytest.raises(EsignRejected) as caught:
        sign(c)
    raised.append(caught.value)

    assert [type(e) for e in raised] == [WrongPassphrase, EsignUnavailable, EsignUnavailable, EsignRejected]
    for exc in raised:
        assert exc.__cause__ is None and exc.__context__ is None  # httpx's errors (the request, its body) not kept
        assert _leaks(exc, [*secrets, "not-the-secret"]) == []
        assert CAMAT_NIK not in str(exc) and CAMAT_NIK not in repr(exc)
    records = list(caplog.records)
    assert any("************0001" in r.getMessage() for r in records)  # the NIK, masked, is what logs carry
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in [*secrets, "not-the-secret", CAMAT_NIK]:
            assert secret not in text, (record.name, text)
    assert repr(BsreSettings(bsre.url, bsre.username, bsre.password)).count(bsre.password) == 0


# --------------------------------------------------------------------------- user status and the fake's users


def test_user_status(bsre):
    with client(bsre) as c:
        assert c.user_status(CAMAT_NIK) == "ISSUE"
        assert c.user_status(UNKNOWN_NIK) == "NOT_REGISTERED"
        assert c.user_status(EXPIRED_NIK) == "EXPIRED"


def test_a_user_registered_at_runtime_can_sign(bsre):
    nik = "3528075507850003"
    answer = httpx.post(
        f"{bsre.url}/dev/bsre/users", json={"nik": nik, "name": "Hj. Siti Aminah, S.Sos.", "passphrase": "Baru-#5521"}
    )
    assert answer.status_code == 201 and "Baru-#5521" not in answer.text
    with client(bsre) as c:
        assert c.user_status(nik) == "ISSUE"
        signed = sign(c, nik=nik, passphrase="Baru-#5521")
    [sig] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert sig.signer_cert.subject.native["common_name"] == "Hj. Siti Aminah, S.Sos."


def test_the_fake_keeps_its_keys_private(bsre):
    with client(bsre) as c:
        sign(c)  # the signer's key exists
    keys = [bsre.folder / "ca.key", *(bsre.folder / "signers").glob("*.key")]
    assert len(keys) >= 2
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
