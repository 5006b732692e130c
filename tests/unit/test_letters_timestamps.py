"""Signatures that stay verifiable: PAdES B-T (an RFC 3161 timestamp from a timestamp authority) and B-LTA (the
validation data embedded, and a document timestamp over it), with the local TSA of devtools/tsa answering over
real HTTP; a letter that still verifies after its signer's certificate expired, and one without a timestamp
that does not; the development CA's TSA certificate and CRL; the visible stamp; the verification page's words."""

from __future__ import annotations

import io
import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfgen import canvas

from devtools.tsa.server import TsaServer
from services.letters import handlers
from services.letters.adapters.development_ca import DEV_TSA_COMMON_NAME, DevelopmentCA
from services.letters.adapters.keys import SigningKeys
from services.letters.adapters.memory import LettersMemory
from services.letters.adapters.signing import (
    DEVELOPMENT_NOTICE,
    DOCUMENT_TIMESTAMP_FIELD,
    SIGNATURE_FIELD,
    SigningError,
    SigningIdentity,
    TimestampAuthority,
    Timestamping,
    TimestampUnavailable,
    ValidationData,
    load_key,
    pem_cert,
    pem_key,
    sign_pdf,
    stamp_text,
)
from services.letters.adapters.verification import verify_pdf
from services.letters.config import LettersSettings
from services.letters.entrypoints import verify as verify_page
from services.letters.unit_of_work import StaffName
from shared.privacy import KeyEncryptionKeys
from shared.storage import LocalDocumentStore
from tests.contracts.letters_uow import Story, new_place

NUMBER_TEXT = "Nomor: 001/PENGADUAN/35.28.07/2026"
WIB_OFFSET = timedelta(hours=7)


def letter_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1, pageCompression=0)
    c.drawString(72, 720, NUMBER_TEXT)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> DevelopmentCA:
    return DevelopmentCA(tmp_path_factory.mktemp("signing-ts"))


@pytest.fixture(scope="module")
def camat(ca) -> SigningIdentity:
    return ca.identity("pegantenan", "Pegantenan", "Kabupaten Pamekasan")


@pytest.fixture(scope="module")
def tsa(ca):
    """The local TSA over HTTP, its certificate from the same development CA."""
    with TsaServer(ca.folder) as server:
        yield server


@pytest.fixture(scope="module")
def keys(ca, tsa) -> SigningKeys:
    return SigningKeys(ca.folder, production=False, tsa=TimestampAuthority(tsa.url))


@pytest.fixture(scope="module")
def data(keys) -> ValidationData:
    return keys.validation_data()


def timestamping(tsa: TsaServer, data: ValidationData, *, long_term: bool) -> Timestamping:
    return Timestamping(TimestampAuthority(tsa.url), long_term=long_term, validation=data)


@pytest.fixture(scope="module")
def b_t(camat, tsa, data) -> bytes:
    return sign_pdf(
        letter_pdf(), camat, reason="r", location="Pegantenan", timestamping=timestamping(tsa, data, long_term=False)
    )


@pytest.fixture(scope="module")
def b_lta(camat, tsa, data) -> bytes:
    return sign_pdf(
        letter_pdf(), camat, reason="r", location="Pegantenan", timestamping=timestamping(tsa, data, long_term=True)
    )


def short_lived(ca: DevelopmentCA, valid_for: timedelta) -> SigningIdentity:
    """A Camat's certificate from the development CA that expires ``valid_for`` from now (the CA's profile)."""
    ca_key = load_key((ca.folder / "ca.key").read_bytes(), None, "ca.key")
    ca_pem = (ca.folder / "ca.crt").read_bytes()
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    key = rsa.generate_private_key(65537, 2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Camat Pegantenan")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return SigningIdentity("pegantenan", "Camat Pegantenan", pem_key(key), pem_cert(cert), (ca_pem,), development=True)


def signatures(pdf: bytes):
    return PdfFileReader(io.BytesIO(pdf)).embedded_signatures


# --------------------------------------------------------------------------- B-T: the timestamp present and valid


def test_a_b_t_letter_carries_a_valid_timestamp_from_the_tsa(ca, camat, tsa, data):
    before, issued = datetime.now(UTC), tsa.issued
    pdf = sign_pdf(letter_pdf(), camat, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False))
    after = datetime.now(UTC)
    assert tsa.issued > issued  # asked over HTTP

    [sig] = signatures(pdf)  # one signature, no document timestamp
    assert sig.field_name == SIGNATURE_FIELD and sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    unsigned = {a["type"].native for a in sig.signer_info["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned  # the token sits in the CMS, over the signature value

    v = verify_pdf(pdf, ca.trust_roots(), validation=data)
    assert v.valid and v.intact and v.trusted, v.reason
    assert v.level == "B-T" and not v.validation_data_embedded
    assert v.timestamp is not None and v.timestamp.valid
    assert v.timestamp.authority == DEV_TSA_COMMON_NAME
    assert before - timedelta(seconds=2) <= v.timestamp.time <= after + timedelta(seconds=2)
    assert v.certificate.subject == "Camat Pegantenan" and v.certificate.issuer == "pengaduan Development CA"
    assert v.certificate.serial == f"{x509.load_pem_x509_certificate(camat.cert_pem).serial_number:X}"
    assert v.development


def test_without_a_tsa_a_letter_is_b_b_and_has_no_timestamp(ca, camat, data):
    v = verify_pdf(sign_pdf(letter_pdf(), camat, reason="r", location="x"), ca.trust_roots(), validation=data)
    assert v.valid and v.level == "B-B" and v.timestamp is None and not v.validation_data_embedded


def test_a_timestamp_from_a_tsa_not_trusted_for_timestamps_is_shown_invalid(tmp_path, camat, ca, data):
    foreign = DevelopmentCA(tmp_path / "foreign")  # its own CA issues this TSA's certificate
    foreign_roots = tuple(foreign.trust_roots())
    with TsaServer(foreign.folder) as other:
        signing_data = ValidationData(trust_roots=data.trust_roots, timestamp_roots=foreign_roots)
        pdf = sign_pdf(
            letter_pdf(),
            camat,
            reason="r",
            location="x",
            timestamping=timestamping(other, signing_data, long_term=False),
        )
        # our own settings do not trust that TSA: the signer refuses to use it
        with pytest.raises(SigningError):
            sign_pdf(
                letter_pdf(), camat, reason="r", location="x", timestamping=timestamping(other, data, long_term=False)
            )
    v = verify_pdf(pdf, ca.trust_roots(), validation=data)
    assert v.valid  # the Camat's certificate is valid now: the letter is genuine
    assert v.timestamp is not None and not v.timestamp.valid and v.level == "B-T"
    # once the certificate has expired, an untrusted timestamp proves nothing
    later = verify_pdf(pdf, ca.trust_roots(), validation=data, at=datetime.now(UTC) + timedelta(days=3 * 365))
    assert not later.valid and "expired" in later.reason


# --------------------------------------------------------------------------- B-LTA: validation data embedded


def test_a_b_lta_letter_embeds_the_validation_data_and_ends_with_a_document_timestamp(ca, camat, b_lta, data):
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    sig, doc_ts = signatures(b_lta)
    assert (sig.field_name, sig.sig_object_type) == (SIGNATURE_FIELD, "/Sig")
    assert (doc_ts.field_name, doc_ts.sig_object_type) == (DOCUMENT_TIMESTAMP_FIELD, "/DocTimeStamp")
    assert doc_ts.sig_object["/SubFilter"] == "/ETSI.RFC3161"
    start1, _, start2, len2 = (int(x) for x in doc_ts.sig_object["/ByteRange"])
    assert start1 == 0 and start2 + len2 == len(b_lta)  # the document timestamp covers the whole file

    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(b_lta)))
    crls = [c.get_object().data for c in dss.crls]
    assert crls == [ca.crl()]  # the development CA's CRL, as of signing
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Camat Pegantenan", "pengaduan Development CA", DEV_TSA_COMMON_NAME} <= subjects

    v = verify_pdf(b_lta, ca.trust_roots(), validation=data)
    assert v.valid, v.reason
    assert v.level == "B-LTA" and v.validation_data_embedded and v.timestamp.valid


def test_a_b_lta_letter_changed_after_its_document_timestamp_is_not_valid(ca, b_lta, data):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    appended = verify_pdf(b_lta + b"\n% appended\n", ca.trust_roots(), validation=data)
    assert not appended.valid and not appended.intact and "after signing" in appended.reason

    w = IncrementalPdfFileWriter(io.BytesIO(b_lta))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    overlay = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 680 Td (Nomor: 999/PALSU) Tj ET")
    page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), w.add_object(overlay)])
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    updated = verify_pdf(out.getvalue(), ca.trust_roots(), validation=data)
    assert not updated.valid and not updated.intact

    at = b_lta.index(NUMBER_TEXT.encode()) + len("Nomor: 00")  # 001 -> 002 in the signed revision
    changed = verify_pdf(b_lta[:at] + b"2" + b_lta[at + 1 :], ca.trust_roots(), validation=data)
    assert not changed.valid and not changed.intact


# --------------------------------------------------------------------------- after the certificate expired


def test_a_letter_verifies_after_its_signers_certificate_expired_thanks_to_its_timestamp(ca, tsa, data):
    """A certificate valid for a few seconds: the letters signed with it are checked once it has really expired."""
    identity = short_lived(ca, timedelta(seconds=10))
    expires = x509.load_pem_x509_certificate(identity.cert_pem).not_valid_after_utc
    with_ts = sign_pdf(
        letter_pdf(), identity, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False)
    )
    without = sign_pdf(letter_pdf(), identity, reason="r", location="x")
    assert verify_pdf(without, ca.trust_roots(), validation=data).valid  # both genuine while it is valid

    while datetime.now(UTC) <= expires + timedelta(seconds=1):  # until it has expired
        time.sleep(0.2)
    v = verify_pdf(with_ts, ca.trust_roots(), validation=data)
    assert v.valid, v.reason
    assert v.certificate.valid_until == expires < datetime.now(UTC)
    assert v.trusted_as_of == v.timestamp.time < expires  # checked as of the timestamp's time
    old = verify_pdf(without, ca.trust_roots(), validation=data)
    assert not old.valid and old.intact and not old.trusted and "expired" in old.reason
    assert old.timestamp is None and old.level == "B-B"


def test_validated_years_later_a_timestamped_letter_holds_and_an_untimestamped_one_does_not(ca, tsa, data):
    identity = short_lived(ca, timedelta(minutes=10))
    expires = x509.load_pem_x509_certificate(identity.cert_pem).not_valid_after_utc
    letters = {
        "B-B": sign_pdf(letter_pdf(), identity, reason="r", location="x"),
        "B-T": sign_pdf(
            letter_pdf(), identity, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False)
        ),
        "B-LTA": sign_pdf(
            letter_pdf(), identity, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=True)
        ),
    }
    later = expires + timedelta(days=2 * 365)  # the development TSA's certificate (5 years) still valid
    found = {level: verify_pdf(pdf, ca.trust_roots(), validation=data, at=later) for level, pdf in letters.items()}
    assert {level: v.level for level, v in found.items()} == {"B-B": "B-B", "B-T": "B-T", "B-LTA": "B-LTA"}
    assert not found["B-B"].valid and "expired" in found["B-B"].reason
    for level in ("B-T", "B-LTA"):
        assert found[level].valid, (level, found[level].reason)
        assert found[level].trusted_as_of < expires  # proven to exist while the certificate was valid
        assert found[level].timestamp.valid
    # and nothing proves a letter after the TSA's certificate, too, has expired (without a newer archive timestamp)
    tsa_expires = x509.load_pem_x509_certificate(ca.tsa_identity().cert_pem).not_valid_after_utc
    too_late = verify_pdf(letters["B-T"], ca.trust_roots(), validation=data, at=tsa_expires + timedelta(days=1))
    assert not too_late.valid


# --------------------------------------------------------------------------- a TSA that is away or refuses


def test_a_tsa_that_is_down_raises_timestamp_unavailable_a_connection_error(camat, tsa, data):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nowhere = Timestamping(
        TimestampAuthority(f"http://127.0.0.1:{port}/tsa", timeout=2), long_term=False, validation=data
    )
    with pytest.raises(TimestampUnavailable) as caught:
        sign_pdf(letter_pdf(), camat, reason="r", location="x", timestamping=nowhere)
    assert isinstance(caught.value, ConnectionError)  # the worker retries it (shared.tasks.TRANSIENT)

    refused = tsa.refused
    tsa.control("error503", times=1)
    with pytest.raises(TimestampUnavailable):
        sign_pdf(letter_pdf(), camat, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False))
    assert tsa.refused == refused + 1
    # back: the next letter is timestamped
    pdf = sign_pdf(letter_pdf(), camat, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False))
    assert verify_pdf(pdf, list(data.trust_roots), validation=data).timestamp.valid


def test_a_tsa_that_rejects_the_request_is_a_signing_error_not_worth_retrying(camat, tsa, data):
    tsa.control("reject", times=1)
    with pytest.raises(SigningError) as caught:
        sign_pdf(letter_pdf(), camat, reason="r", location="x", timestamping=timestamping(tsa, data, long_term=False))
    assert not isinstance(caught.value, ConnectionError)


# --------------------------------------------------------------------------- the visible signature


def test_the_stamp_names_the_signer_and_the_time_in_the_kabupatens_zone():
    from zoneinfo import ZoneInfo

    at = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    assert stamp_text("Drs. H. Moh.  Ma'ruf, M.Si.", at).splitlines() == [
        "Ditandatangani secara elektronik oleh",
        "Drs. H. Moh. Ma'ruf, M.Si.",
        "2 Maret 2026 pukul 09.30 WIB",
    ]
    wita = stamp_text("X", at, zone=ZoneInfo("Asia/Makassar"), zone_label="WITA", development=True).splitlines()
    assert wita[2:] == ["2 Maret 2026 pukul 10.30 WITA", DEVELOPMENT_NOTICE]
    late = datetime(2026, 12, 31, 18, 30, tzinfo=UTC)  # the next day in WIB
    assert "1 Januari 2027 pukul 01.30 WIB" in stamp_text("X", late)


def test_the_visible_signature_of_a_development_certificate_says_it_is_a_test(camat):
    pdf = sign_pdf(
        letter_pdf(),
        camat,
        reason="r",
        location="x",
        signed_at=datetime(2026, 3, 2, 2, 30, tzinfo=UTC),
        visible_box=(330, 60, 560, 150),
        signer_name="Drs. H. Moh. Ma'ruf, M.Si. (100%)",
    )
    [sig] = signatures(pdf)
    appearance = sig.sig_field["/AP"]["/N"].get_object().data
    for words in (
        b"(Ditandatangani secara elektronik oleh)",
        rb"(Drs\056 H\056 Moh\056 Ma\047ruf\054 M\056Si\056 \050100\045\051)",  # one %, not %%
        rb"(2 Maret 2026 pukul 09\05630 WIB)",
        rb"(Tanda tangan uji coba \050bukan sertifikat BSrE\051)",
    ):
        assert words in appearance, words
    production = SigningIdentity(camat.kecamatan, camat.signer_name, camat.key_pem, camat.cert_pem, camat.chain_pem)
    plain = sign_pdf(letter_pdf(), production, reason="r", location="x", visible_box=(330, 60, 560, 150))
    [sig] = signatures(plain)
    assert b"uji coba" not in sig.sig_field["/AP"]["/N"].get_object().data
    assert b"(Camat Pegantenan)" in sig.sig_field["/AP"]["/N"].get_object().data  # the certificate's CN by default


# --------------------------------------------------------------------------- the development CA


def test_the_development_ca_issues_the_tsa_a_timestamping_certificate(ca):
    tsa = ca.tsa_identity()
    cert = x509.load_pem_x509_certificate(tsa.cert_pem)
    [root] = [x509.load_pem_x509_certificate(p) for p in ca.trust_roots()]
    cert.verify_directly_issued_by(root)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEV_TSA_COMMON_NAME
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]  # RFC 3161 2.3
    assert timedelta(days=1800) < cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=1830)
    assert ca.tsa_identity() == tsa  # kept, not made again
    with pytest.raises(ValueError):
        ca.identity("tsa", "Tsa", "Kabupaten Pamekasan")  # no kecamatan may take the TSA's files


def test_the_development_ca_keeps_a_crl_and_issues_it_afresh_before_it_runs_out(tmp_path):
    ca = DevelopmentCA(tmp_path)
    der = ca.crl()
    crl = x509.load_der_x509_crl(der)
    [root] = [x509.load_pem_x509_certificate(p) for p in ca.trust_roots()]
    assert crl.issuer == root.subject and crl.is_signature_valid(root.public_key())
    assert list(crl) == []  # nothing revoked
    assert timedelta(days=6) < crl.next_update_utc - datetime.now(UTC) <= timedelta(days=7)
    assert ca.crl() == der and (tmp_path / "ca.crl").read_bytes() == der  # kept while fresh
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    ca_key = load_key((tmp_path / "ca.key").read_bytes(), None, "ca.key")
    from cryptography.hazmat.primitives import serialization

    nearly_stale = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(datetime.now(UTC) - timedelta(days=6, hours=12))
        .next_update(datetime.now(UTC) + timedelta(hours=12))
        .add_extension(x509.CRLNumber(number), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "ca.crl").write_bytes(nearly_stale.public_bytes(serialization.Encoding.DER))
    fresh = x509.load_der_x509_crl(ca.crl())
    assert fresh.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number + 1
    assert fresh.next_update_utc - datetime.now(UTC) > timedelta(days=6)


# --------------------------------------------------------------------------- settings and keys


def test_the_settings_choose_the_level_and_production_needs_the_tsas_root(tmp_path):
    assert SigningKeys.from_settings(LettersSettings(data_dir=str(tmp_path))).timestamping() is None  # B-B
    settings = LettersSettings(data_dir=str(tmp_path), tsa_url="http://127.0.0.1:1/tsa", pades_level="B-T")
    made = SigningKeys.from_settings(settings).timestamping()
    assert made is not None and made.level == "B-T" and made.authority.url == "http://127.0.0.1:1/tsa"
    assert made.validation.timestamp_roots == made.validation.trust_roots  # development: the development CA
    assert (
        SigningKeys.from_settings(LettersSettings(data_dir=str(tmp_path), tsa_url="http://x/tsa"))
        .timestamping()
        .long_term
    )
    secret = "q8Vd3kPz0LwN7rTs2YxB5mHc9JfA4eGu6iKo1nRb"
    keys = json.dumps(KeyEncryptionKeys.generate("t1"))
    with pytest.raises(ValueError, match="PENGADUAN_TSA_CA_FILE"):
        LettersSettings(
            environment="production", secret_key=secret, privacy_keys=keys, tsa_url="https://tsa.example/tsr"
        )
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(DevelopmentCA(tmp_path / "ca").trust_roots()[0])
    production = LettersSettings(
        environment="production",
        secret_key=secret,
        privacy_keys=keys,
        tsa_url="https://tsa.example/tsr",
        tsa_ca_file=str(roots),
    )
    assert SigningKeys.from_settings(production).tsa == TimestampAuthority("https://tsa.example/tsr")


def test_production_validation_data_reads_the_roots_and_the_crls_in_the_signing_folder(tmp_path):
    source = DevelopmentCA(tmp_path / "ca")
    folder = tmp_path / "signing"
    folder.mkdir()
    (folder / "ca.crt").write_bytes(source.trust_roots()[0])
    (folder / "ca.crl").write_bytes(source.crl())
    roots = tmp_path / "tsa.pem"
    roots.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
    data = SigningKeys(folder, production=True, timestamp_roots_file=roots).validation_data()
    assert data.trust_roots == (source.trust_roots()[0],) and data.crls == (source.crl(),)
    assert data.timestamp_roots == (roots.read_bytes(),) and data.certs == ()
    assert SigningKeys(folder, production=True).validation_data().timestamp_roots == ()  # no timestamp trusted


# --------------------------------------------------------------------------- the letter and its verification page


def test_a_response_letter_is_signed_b_lta_and_its_verification_page_says_who_when_and_how(ca, tsa, keys, tmp_path):
    memory, place = LettersMemory(), new_place("ts")
    context = handlers.Context(
        uow=memory.uow,
        directory={place.slug: place},
        documents=LocalDocumentStore(tmp_path / "documents"),
        keys=keys,
        public_base_url="https://pengaduan.example",
    )

    class World:
        def append(self, stream_id, expected_version, events):
            memory.store.append(stream_id, expected_version, events)

        def add_staff(self, place, username, full_name, nip):
            memory.staff[username] = StaffName(full_name, nip)

    world = World()
    world.add_staff(place, f"camat.{place.slug}", "Drs. H. Moh. Ma'ruf, M.Si.", "197001011990031001")
    story = Story(world, place)
    story.received()
    story.clarified()
    story.drafted()
    signed = story.signed(f"camat.{place.slug}")
    issued = handlers.issue_signed_letter(context, signed.event_id)
    pdf = context.documents.get(issued.sha256)

    [camat_sig, doc_ts] = signatures(pdf)
    appearance = camat_sig.sig_field["/AP"]["/N"].get_object().data
    local = signed.occurred_at.astimezone(place.time_zone)
    assert rb"(Drs\056 H\056 Moh\056 Ma\047ruf\054 M\056Si\056)" in appearance  # the person, not the certificate
    assert f"pukul {local.hour:02d}\\056{local.minute:02d} WIB".encode() in appearance
    assert b"uji coba" in appearance and doc_ts.sig_object_type == "/DocTimeStamp"

    check = handlers.check_letter(context, pdf, handlers.signed_letter(context, issued.document_id))
    assert check.valid and check.signature.level == "B-LTA"
    out = verify_page._answer(check, (place.time_zone, place.time_zone_label))
    assert out.valid and out.signer == "Drs. H. Moh. Ma'ruf, M.Si." and out.certificate_signer == "Camat Uji"
    assert out.signed_at_source == "timestamp" and out.time_zone == "WIB"
    assert out.signed_at == out.timestamp.time and out.signed_at.utcoffset() == WIB_OFFSET
    assert out.timestamp.present and out.timestamp.valid and out.timestamp.authority == DEV_TSA_COMMON_NAME
    assert out.pades_level == "B-LTA" and out.validation_data_embedded and out.development_signature
    assert (
        out.certificate.issuer == "pengaduan Development CA" and out.certificate.valid_until.utcoffset() == WIB_OFFSET
    )
    page = verify_page._page(out)
    for words in (
        "Surat ini asli",
        "Drs. H. Moh. Ma&#x27;ruf, M.Si.",
        "(menurut stempel waktu)",
        f"Sah: {verify_page._when(out.timestamp.time, 'WIB')} oleh pengaduan Development TSA",
        "Camat Uji",
        "Penerbit sertifikat",
        out.certificate.serial,
        "Tertanam dalam dokumen (B-LTA)",
        "bukan sertifikat BSrE",
    ):
        assert words in page, words


def test_the_verification_page_of_a_letter_without_timestamp_says_so(ca, camat, tmp_path):
    pdf = sign_pdf(letter_pdf(), camat, reason="r", location="x", signed_at=datetime(2026, 3, 2, 2, 30, tzinfo=UTC))
    keys = SigningKeys(ca.folder, production=False)
    context = handlers.Context(
        uow=LettersMemory().uow,
        directory={},
        documents=LocalDocumentStore(tmp_path / "d"),
        keys=keys,
        public_base_url="https://pengaduan.example",
    )
    out = verify_page._answer(
        handlers.check_letter(context, pdf, None), (verify_page.DEFAULT_ZONE, verify_page.DEFAULT_ZONE_LABEL)
    )
    assert not out.valid and out.pades_level == "B-B" and not out.timestamp.present  # not on record
    assert out.signed_at_source == "signer" and out.signed_at.hour == 9  # its own claim, in WIB
    page = verify_page._page(out)
    assert "Tidak ada: waktu penandatanganan hanya menurut penanda tangan" in page
    assert "2 Maret 2026 pukul 09.30 WIB (menurut penanda tangan)" in page and "Tidak tertanam" in page
