"""Letters that stay verifiable, through real processes: a letters worker configured with a timestamp authority
(PENGADUAN_TSA_URL, the local TSA of devtools/tsa over HTTP, its certificate from the development CA in the same
signing folder) signs the surat pelimpahan PAdES B-LTA; the letters API's verification page says who signed, when
(WIB, by the timestamp), under which certificate, that the timestamp is valid and the validation data embedded;
the letter still verifies as of a time after the Camat's certificate has expired; and a TSA that is down for a
moment delays the letter, never loses it nor issues it without its timestamp."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader

from devtools.tsa.server import TsaServer
from services.accounts.handlers import add_user
from services.letters.adapters.development_ca import DEV_TSA_COMMON_NAME
from services.letters.adapters.verification import verify_pdf
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow.bootstrap import bootstrap
from services.workflow.relay import EventDispatcher
from shared.celery_app import make_celery
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import NOTIFY_CHANNEL
from shared.subscriptions import Runner
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.integration.test_letters_instruments import AGENCY, act, documents_of, event_of
from tests.support.complaints import new_complaint
from tests.support.organisation import give_heads
from tests.support.processes import wait_until

CAMAT_NAME = "Drs. H. Moh. Ma'ruf, M.Si."


@pytest.fixture(scope="module")
def letters_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("letters-ltv")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def tsa(letters_settings):
    """The local TSA, with the development CA of the letters' signing folder."""
    with TsaServer(LettersSettings(**letters_settings.model_dump()).signing_path) as server:
        yield server


@pytest.fixture(scope="module")
def wf(letters_settings):
    container = bootstrap(letters_settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def letters(letters_settings, tsa):
    container = letters_bootstrap(LettersSettings(**letters_settings.model_dump(), tsa_url=tsa.url))
    yield container
    container.engine.dispose()


@pytest.fixture
def place(engine, wf, letters):
    suffix = uuid.uuid4().hex[:6]
    kecamatan = Kecamatan(
        f"ltv-{suffix}",
        f"94.{suffix}",
        "Instrumen",
        "pamekasan",
        "Kabupaten Pamekasan",
        {"pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN", "kecamatan": "KECAMATAN INSTRUMEN", "city": "Instrumen"},
    )
    upsert_kecamatan(engine, [kecamatan])
    add_user(engine, f"camat.{kecamatan.slug}", CAMAT_NAME, "camat", "rahasia-uji-123", kecamatan=kecamatan.slug)
    give_heads(engine, kecamatan.slug, ("pemerintahan",))
    for directory in (wf.directory, letters.directory):
        directory.invalidate()
    return kecamatan


@pytest.fixture
def letters_worker(letters_settings, spawn, background, wf, tsa):
    """A letters worker timestamping at the local TSA (B-LTA, the default level), and the relay feeding it."""
    worker = spawn(
        "worker",
        "letters",
        "--concurrency",
        "1",
        settings_=letters_settings,
        PENGADUAN_DATA_DIR=letters_settings.data_dir,
        PENGADUAN_TSA_URL=tsa.url,
        PENGADUAN_LOG_LEVEL="INFO",
    )
    for sub in SUBSCRIPTIONS:
        if sub.queue == "letters":
            dispatcher = EventDispatcher(wf.engine, wf.store, make_celery(letters_settings, "t"), sub)
            background.start(
                Runner(wf.engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2)
            )
    return worker


def refer(wf, place: Kecamatan) -> uuid.UUID:
    cid = new_complaint(wf, place.slug)
    act(wf, place, cid, "verify-identity", "kasi")
    act(wf, place, cid, "register", "staf")
    act(
        wf,
        place,
        cid,
        "refer",
        "camat",
        {"agency": AGENCY, "agency_kind": "opd", "reason": "Jalan tersebut berstatus jalan kabupaten."},
    )
    return cid


def test_the_worker_signs_b_lta_and_the_verification_page_says_who_when_and_under_which_certificate(
    letters_settings, engine, wf, letters, place, letters_worker, tsa
):
    issued_before = tsa.issued
    cid = refer(wf, place)
    (letter,) = wait_until(lambda: documents_of(engine, cid, "referral_letter"), timeout=90, message="the letter")
    pdf = letters.documents.get(letter["sha256"])
    assert tsa.issued >= issued_before + 2  # the signature timestamp and the document timestamp, over HTTP

    camat_sig, doc_ts = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert (camat_sig.sig_object_type, doc_ts.sig_object_type) == ("/Sig", "/DocTimeStamp")
    data = letters.keys.validation_data()
    verdict = verify_pdf(pdf, letters.keys.trust_roots(), validation=data)
    assert verdict.valid and verdict.level == "B-LTA" and verdict.validation_data_embedded, verdict.reason
    referred = event_of(wf, cid, "workflow.ComplaintReferred")
    assert referred.occurred_at - timedelta(seconds=1) <= verdict.timestamp.time <= datetime.now(UTC)

    # years later, once the Camat's certificate has expired: still genuine, by the timestamps
    expires = x509.load_pem_x509_certificate(letters.keys.identity(place).cert_pem).not_valid_after_utc
    later = verify_pdf(pdf, letters.keys.trust_roots(), validation=data, at=expires + timedelta(days=30))
    assert later.valid and later.trusted_as_of < expires, later.reason

    with TestClient(letters_app(letters)) as client:
        page = client.get(f"/v1/letters/verify/{letter['id']}").json()
        assert page["valid"] and page["kind"] == "referral_letter" and page["signer"] == CAMAT_NAME
        assert page["certificate_signer"] == "Camat Instrumen"
        assert page["certificate"]["issuer"] == "pengaduan Development CA" and page["certificate"]["serial"]
        assert page["timestamp"] | {"time": None} == {
            "present": True,
            "valid": True,
            "time": None,
            "authority": DEV_TSA_COMMON_NAME,
        }
        assert page["timestamp"]["time"].endswith("+07:00") and page["time_zone"] == "WIB"
        assert (page["signed_at"], page["signed_at_source"]) == (page["timestamp"]["time"], "timestamp")
        assert page["pades_level"] == "B-LTA" and page["validation_data_embedded"] is True
        assert page["development_signature"] is True
        html = client.get(f"/v1/letters/verify/{letter['id']}", headers={"accept": "text/html"}).text
        for words in (
            "Surat ini asli",
            "(menurut stempel waktu)",
            "Sah: ",
            "WIB oleh pengaduan Development TSA",
            "Camat Instrumen",
            "Tertanam dalam dokumen (B-LTA)",
            "bukan sertifikat BSrE",
        ):
            assert words in html, words
        upload = client.post("/v1/letters/verify", content=pdf, headers={"content-type": "application/pdf"}).json()
        assert upload["valid"] and upload["timestamp"]["valid"] and upload["pades_level"] == "B-LTA"


def test_a_tsa_down_for_a_moment_delays_the_letter_and_it_comes_once_with_its_timestamp(
    letters_settings, engine, wf, letters, place, letters_worker, tsa
):
    refused = tsa.refused
    tsa.control("error503", times=3)  # the next three requests: 503
    cid = refer(wf, place)
    (letter,) = wait_until(lambda: documents_of(engine, cid, "referral_letter"), timeout=120, message="the letter")
    assert tsa.refused == refused + 3  # it was asked, turned away, and asked again
    assert "transient failure" in letters_worker.output()  # retried, as for any service that is away
    pdf = letters.documents.get(letter["sha256"])
    verdict = verify_pdf(pdf, letters.keys.trust_roots(), validation=letters.keys.validation_data())
    assert verdict.valid and verdict.timestamp.valid and verdict.level == "B-LTA", verdict.reason
    assert [d["id"] for d in documents_of(engine, cid, "referral_letter")] == [letter["id"]]
