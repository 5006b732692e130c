"""Signing response letters (PAdES via pyHanko) and verifying them; the development CA."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from reportlab.pdfgen import canvas

from services.letters.adapters.development_ca import DevelopmentCA
from services.letters.adapters.signing import (
    SIGNATURE_FIELD,
    SigningError,
    SigningIdentity,
    load_identity,
    sign_pdf,
)
from services.letters.adapters.verification import Verification, verify_pdf

NUMBER = "Nomor: 001/PENGADUAN/35.28.07/2026"
SIGNED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=7)))
REPO = Path(__file__).resolve().parents[2]


def letter_pdf(text: str = NUMBER) -> bytes:
    """A 1-page PDF; content streams uncompressed so that the number is visible in the bytes."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1, pageCompression=0)
    c.setFont("Helvetica", 12)
    c.drawString(72, 720, text)
    c.drawString(72, 700, "Perihal: Tanggapan atas pengaduan")
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory) -> DevelopmentCA:
    return DevelopmentCA(tmp_path_factory.mktemp("signing"))


@pytest.fixture(scope="module")
def camat(dev_ca) -> SigningIdentity:
    return dev_ca.identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")


@pytest.fixture(scope="module")
def signed(camat) -> bytes:
    return sign_pdf(letter_pdf(), camat, reason="Tanggapan pengaduan", location="Pegantenan", signed_at=SIGNED_AT)


def byte_range(pdf: bytes) -> list[int]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    return [int(x) for x in sig.sig_object["/ByteRange"]]


# --------------------------------------------------------------------------- signing and verifying


def test_signed_letter_verifies(dev_ca, signed):
    v = verify_pdf(signed, dev_ca.trust_roots())
    assert v.valid and v.intact and v.trusted, v.reason
    assert v.signer == "Camat Pegantenan"
    assert v.reason is None
    assert v.signed_at == SIGNED_AT
    import hashlib

    assert v.sha256 == hashlib.sha256(signed).hexdigest()


def test_signature_is_pades_in_the_camat_field_and_covers_the_whole_file_including_the_number(signed):
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(signed))
    [sig] = reader.embedded_signatures
    assert sig.field_name == SIGNATURE_FIELD
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/Reason"] == "Tanggapan pengaduan"
    assert sig.sig_object["/Location"] == "Pegantenan"
    start1, len1, start2, len2 = byte_range(signed)
    assert start1 == 0 and start2 + len2 == len(signed)  # everything but the /Contents hole
    hole = signed[len1:start2]
    assert hole.startswith(b"<") and hole.endswith(b">")
    assert 0 <= signed.index(NUMBER.encode()) < len1  # the letter's number is inside the signed bytes


def test_signed_letter_is_still_an_ordinary_pdf(signed):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(signed))
    assert len(reader.pages) == 1
    assert NUMBER in reader.pages[0].extract_text()


def test_changing_one_byte_of_the_letter_text_breaks_integrity(dev_ca, signed):
    at = signed.index(NUMBER.encode()) + len("Nomor: 00")
    assert signed[at : at + 1] == b"1" and at < byte_range(signed)[1]
    tampered = signed[:at] + b"2" + signed[at + 1 :]  # 001 -> 002, same length: offsets stay right
    v = verify_pdf(tampered, dev_ca.trust_roots())
    assert not v.valid and not v.intact
    assert v.trusted  # the certificate is still the Camat's: only the content is wrong
    assert "modified after signing" in v.reason


def test_changing_a_byte_of_the_signature_value_is_not_valid(dev_ca, signed):
    _, len1, _, _ = byte_range(signed)
    contents = signed[len1 + 1 :]  # the /Contents hex: a DER SEQUENCE with a 2-byte length, then 0 padding
    assert contents[:4] == b"3082"
    cms_hex_len = 2 * (int(contents[4:8], 16) + 4)
    # The RSA signature value is the last element of the CMS: change a hex digit 100 digits from its end.
    # (A byte changed in an embedded copy of the CA certificate would NOT matter: the CMS certificate bag
    # is unsigned, the signer's certificate is bound by a signed attribute and trust comes from our roots.)
    at = len1 + 1 + cms_hex_len - 100
    flipped = b"0" if signed[at : at + 1] != b"0" else b"1"
    v = verify_pdf(signed[:at] + flipped + signed[at + 1 :], dev_ca.trust_roots())
    assert not v.valid and not v.trusted
    assert "signature value is not valid" in v.reason


def test_bytes_appended_after_eof_make_it_not_valid(dev_ca, signed):
    v = verify_pdf(signed + b"\n% appended after signing\n", dev_ca.trust_roots())
    # pyHanko calls this coverage ENTIRE_REVISION (not the entire file): intact is False by our definition.
    assert not v.valid and not v.intact
    assert v.trusted and v.signer == "Camat Pegantenan"
    assert "after signing" in v.reason


def test_incremental_update_changing_the_page_makes_it_not_valid(dev_ca, signed):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = w.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    overlay = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 680 Td (Nomor: 999/PALSU) Tj ET")
    page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), w.add_object(overlay)])
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    updated = out.getvalue()
    assert updated.startswith(signed)  # the signed revision is untouched; a new one follows

    v = verify_pdf(updated, dev_ca.trust_roots())
    # The signature itself still checks out over its own revision, but it no longer covers the entire
    # file (pyHanko: ENTIRE_REVISION), which we treat as not intact and not valid.
    assert not v.valid and not v.intact
    assert "after signing" in v.reason


def test_unsigned_pdf_has_no_signature(dev_ca):
    v = verify_pdf(letter_pdf(), dev_ca.trust_roots())
    assert v == Verification(
        valid=False, intact=False, trusted=False, signer=None, signed_at=None, sha256=v.sha256, reason="no signature"
    )


@pytest.mark.parametrize("data", [b"", b"garbage, not a PDF", os.urandom(2048), b"%PDF-1.7\n" + os.urandom(500)])
def test_garbage_is_not_valid_and_does_not_raise(dev_ca, data):
    v = verify_pdf(data, dev_ca.trust_roots())
    assert not v.valid and not v.intact and not v.trusted
    assert v.reason


def test_truncated_signed_pdf_is_not_valid(dev_ca, signed):
    v = verify_pdf(signed[: len(signed) // 2], dev_ca.trust_roots())
    assert not v.valid and v.reason


def test_signature_by_another_ca_is_not_trusted(dev_ca, tmp_path):
    other = DevelopmentCA(tmp_path / "other").identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")
    pdf = sign_pdf(letter_pdf(), other, reason="r", location="Pegantenan")
    v = verify_pdf(pdf, dev_ca.trust_roots())
    assert v.intact and not v.trusted and not v.valid
    assert v.signer == "Camat Pegantenan"  # claims the same name; the chain decides
    assert "not trusted" in v.reason
    assert verify_pdf(pdf, DevelopmentCA(tmp_path / "other").trust_roots()).valid


def test_unreadable_trust_root_is_a_configuration_error(signed):
    with pytest.raises(ValueError):
        verify_pdf(signed, [b"not a certificate"])


def test_no_trust_roots_trusts_nothing(signed):
    v = verify_pdf(signed, [])
    assert v.intact and not v.trusted and not v.valid


def test_expired_signer_certificate_is_not_trusted(dev_ca, signed):
    # No trusted timestamp: certificates are checked at the validation time (``at``, default now).
    v = verify_pdf(signed, dev_ca.trust_roots(), at=datetime.now(UTC) + timedelta(days=3 * 365))
    assert v.intact and not v.trusted and not v.valid
    assert "expired" in v.reason


def test_signing_from_several_threads_at_once(dev_ca, camat):
    results: list[bytes] = []

    def worker():
        for _ in range(3):
            results.append(sign_pdf(letter_pdf(), camat, reason="r", location="x"))  # noqa: PERF401

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12
    assert all(verify_pdf(pdf, dev_ca.trust_roots()).valid for pdf in results)


def test_visible_signature_verifies(dev_ca, camat):
    pdf = sign_pdf(letter_pdf(), camat, reason="r", location="Pegantenan", visible_box=(360, 80, 560, 150))
    v = verify_pdf(pdf, dev_ca.trust_roots())
    assert v.valid, v.reason
    assert b"Ditandatangani secara elektronik" in pdf or b"/AP" in pdf


def test_signing_time_defaults_to_now(dev_ca, camat):
    before = datetime.now(UTC).replace(microsecond=0)
    v = verify_pdf(sign_pdf(letter_pdf(), camat, reason="r", location="x"), dev_ca.trust_roots())
    assert v.valid
    assert before - timedelta(seconds=1) <= v.signed_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_naive_signing_time_is_refused(camat):
    with pytest.raises(ValueError):
        sign_pdf(letter_pdf(), camat, reason="r", location="x", signed_at=datetime(2026, 1, 1))


def test_signing_garbage_raises_signing_error(camat):
    with pytest.raises(SigningError):
        sign_pdf(b"not a pdf", camat, reason="r", location="x")


def test_same_input_gives_same_structure(camat):
    a = sign_pdf(letter_pdf(), camat, reason="r", location="x", signed_at=SIGNED_AT)
    b = sign_pdf(letter_pdf(), camat, reason="r", location="x", signed_at=SIGNED_AT)
    # Only the second /ID element (random in pyHanko) and hence the signature value differ.
    assert len(a) == len(b) and byte_range(a) == byte_range(b)


def test_sign_and_verify_work_inside_a_running_event_loop(dev_ca, camat):
    async def main():
        pdf = sign_pdf(letter_pdf(), camat, reason="r", location="x")
        return verify_pdf(pdf, dev_ca.trust_roots())

    assert asyncio.run(main()).valid


def test_signing_speed(camat, dev_ca):
    pdf = letter_pdf()
    sign_pdf(pdf, camat, reason="r", location="x")  # warm up (imports, parsed key)
    n = 20
    start = time.perf_counter()
    for _ in range(n):
        out = sign_pdf(pdf, camat, reason="r", location="x")
    per_sign = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n):
        verify_pdf(out, dev_ca.trust_roots())
    per_verify = (time.perf_counter() - start) / n
    print(
        f"\nsign_pdf: {per_sign * 1000:.1f} ms per 1-page letter ({1 / per_sign:.0f}/s in one thread); "
        f"verify_pdf: {per_verify * 1000:.1f} ms"
    )
    assert per_sign < 0.5  # a gross regression guard only (e.g. re-parsing the RSA key per signature)


# --------------------------------------------------------------------------- the development CA


def test_development_ca_certificates(dev_ca, camat):
    cert = x509.load_pem_x509_certificate(camat.cert_pem)
    [root] = [x509.load_pem_x509_certificate(p) for p in dev_ca.trust_roots()]
    assert camat.chain_pem == tuple(dev_ca.trust_roots())
    assert camat.signer_name == "Camat Pegantenan" and camat.kecamatan == "pegantenan"
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pengaduan Development CA"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert timedelta(days=3640) < root.not_valid_after_utc - root.not_valid_before_utc < timedelta(days=3660)
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.COMMON_NAME] == "Camat Pegantenan"
    assert subject[NameOID.ORGANIZATION_NAME] == "Pemerintah Kabupaten Pamekasan"
    assert cert.issuer == root.subject
    cert.verify_directly_issued_by(root)
    assert timedelta(days=725) < cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=735)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36") in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "key_pem" not in repr(camat) and "PRIVATE" not in repr(camat)


def test_development_ca_files_and_permissions(dev_ca, camat):
    folder = dev_ca.folder
    for name in ("ca.key", "ca.crt", "pegantenan.key", "pegantenan.crt", ".lock"):
        assert (folder / name).exists(), name
    for key in ("ca.key", "pegantenan.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600, key
    assert (folder / "pegantenan.crt").read_bytes() == camat.cert_pem
    assert (folder / "pegantenan.key").read_bytes() == camat.key_pem
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_development_ca_is_idempotent(dev_ca, camat):
    again = dev_ca.identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")
    assert again == camat
    fresh = DevelopmentCA(dev_ca.folder).identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")
    assert fresh.cert_pem == camat.cert_pem and fresh.key_pem == camat.key_pem
    assert DevelopmentCA(dev_ca.folder).trust_roots() == dev_ca.trust_roots()


def test_development_ca_makes_distinct_certificates_per_kecamatan(dev_ca, camat):
    galis = dev_ca.identity("galis", "Galis", "Kabupaten Pamekasan")
    assert galis.cert_pem != camat.cert_pem and galis.key_pem != camat.key_pem
    assert galis.chain_pem == camat.chain_pem
    assert galis.signer_name == "Camat Galis"
    v = verify_pdf(sign_pdf(letter_pdf(), galis, reason="r", location="Galis"), dev_ca.trust_roots())
    assert v.valid and v.signer == "Camat Galis"


def test_development_ca_refuses_unsafe_slugs(dev_ca):
    for slug in ("ca", "../etc", "Pegantenan", "", "a/b"):
        with pytest.raises(ValueError):
            dev_ca.identity(slug, "X", "Kabupaten Pamekasan")


def test_development_ca_reissues_a_certificate_near_expiry(tmp_path):
    ca = DevelopmentCA(tmp_path)
    first = ca.identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")
    # Replace the certificate with one about to expire, same key and issuer.
    ca_key = serialization.load_pem_private_key((tmp_path / "ca.key").read_bytes(), None)
    old = x509.load_pem_x509_certificate(first.cert_pem)
    from cryptography.hazmat.primitives import hashes

    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=700))
        .not_valid_after(now + timedelta(days=2))
    )
    for ext in old.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    (tmp_path / "pegantenan.crt").write_bytes(
        builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    )
    renewed = ca.identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")
    assert renewed.key_pem == first.key_pem and renewed.cert_pem != first.cert_pem
    assert x509.load_pem_x509_certificate(renewed.cert_pem).not_valid_after_utc > now + timedelta(days=700)


def test_concurrent_identity_calls_from_threads_agree(tmp_path):
    folder = tmp_path / "fresh"
    barrier = threading.Barrier(4)
    results: list[SigningIdentity] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            results.append(DevelopmentCA(folder).identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4
    assert len({r.cert_pem for r in results}) == 1 and len({r.key_pem for r in results}) == 1
    assert len({r.chain_pem for r in results}) == 1
    assert results[0].cert_pem == (folder / "pegantenan.crt").read_bytes()
    assert list(results[0].chain_pem) == DevelopmentCA(folder).trust_roots()


def test_concurrent_identity_calls_from_processes_agree(tmp_path):
    folder = tmp_path / "fresh"
    code = (
        "import sys, hashlib; from pathlib import Path;"
        "from services.letters.adapters.development_ca import DevelopmentCA;"
        "i = DevelopmentCA(Path(sys.argv[1])).identity('pegantenan', 'Pegantenan', 'Kabupaten Pamekasan');"
        "print(hashlib.sha256(i.cert_pem + i.chain_pem[0]).hexdigest())"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outputs)) == 1 and outputs[0]


# --------------------------------------------------------------------------- production identities from files


def test_load_identity_round_trips_development_files(dev_ca, camat):
    folder = dev_ca.folder
    loaded = load_identity(
        folder / "pegantenan.key", folder / "pegantenan.crt", [folder / "ca.crt"], "pegantenan", "Camat Pegantenan"
    )
    assert loaded == camat
    assert verify_pdf(sign_pdf(letter_pdf(), loaded, reason="r", location="x"), dev_ca.trust_roots()).valid


def test_load_identity_with_encrypted_key_and_fullchain(dev_ca, camat, tmp_path):
    key = serialization.load_pem_private_key(camat.key_pem, None)
    (tmp_path / "enc.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"rahasia"),
        )
    )
    (tmp_path / "fullchain.crt").write_bytes(camat.cert_pem + camat.chain_pem[0])
    loaded = load_identity(
        tmp_path / "enc.key", tmp_path / "fullchain.crt", [], "pegantenan", "Camat Pegantenan", key_password=b"rahasia"
    )
    assert loaded == camat
    with pytest.raises(ValueError):
        load_identity(
            tmp_path / "enc.key",
            tmp_path / "fullchain.crt",
            [],
            "pegantenan",
            "Camat Pegantenan",
            key_password=b"salah",
        )


def test_load_identity_refuses_a_key_of_another_certificate(dev_ca, camat):
    folder = dev_ca.folder
    dev_ca.identity("galis", "Galis", "Kabupaten Pamekasan")
    with pytest.raises(ValueError, match="not the key"):
        load_identity(folder / "galis.key", folder / "pegantenan.crt", [folder / "ca.crt"], "pegantenan", "Camat P")


def test_in_production_without_a_ca_of_its_own_the_roots_are_bsre_s_alone(tmp_path):
    """A kabupaten whose kecamatan all sign through BSrE keeps no ca.crt (deploy/k8s's pengaduan-signing may be
    empty): verifying a letter then trusts BSrE's roots, instead of failing on the missing file."""
    from services.letters.adapters.keys import SigningKeys

    bsre_roots = tmp_path / "bsre-roots.pem"
    bsre_roots.write_bytes(b"-----BEGIN CERTIFICATE-----\nBSRE\n-----END CERTIFICATE-----\n")
    keys = SigningKeys(tmp_path / "signing", production=True, esign_roots_file=bsre_roots)
    assert keys.trust_roots() == [bsre_roots.read_bytes()]
    (tmp_path / "signing").mkdir()
    (tmp_path / "signing" / "ca.crt").write_bytes(b"OWN")
    assert keys.trust_roots() == [b"OWN", bsre_roots.read_bytes()]
