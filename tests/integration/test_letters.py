"""Signed response letters through real processes: the Camat signs (step 10), the relay hands the event
to a letters worker, which renders the numbered letter, PAdES-signs it, stores it and reports back; the
workflow then lets step 11 go on. The verification page tells a genuine letter from a modified one."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select, text
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.accounts.handlers import add_user
from services.letters.adapters.tables import documents
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from services.workflow.relay import EventDispatcher
from shared.auth import Principal
from shared.celery_app import make_celery
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import NOTIFY_CHANNEL
from shared.subscriptions import Runner
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.addresses import unique_address
from tests.support.auth import bearer_header
from tests.support.complaints import new_complaint
from tests.support.organisation import give_heads
from tests.support.processes import wait_until

TO_STEP_10 = [
    ("verify-identity", "kasi", {}),
    ("register", "staf", {}),
    ("dispose", "camat", {"unit": "pemerintahan", "instructions": "Tindak lanjuti"}),
    ("clarify", "kasi", {"explanation": "Jalan akan diperbaiki pada bulan Januari."}),
    ("request-letter", "kasi", {}),
    (
        "draft-letter",
        "staf",
        {
            "perihal": "Tanggapan atas pengaduan jalan rusak",
            "body": "Menanggapi pengaduan Saudara tentang jalan di Dusun Bunangka, kami sampaikan "
            "bahwa perbaikan telah dijadwalkan.\n\nTerima kasih atas kepedulian Saudara.",
        },
    ),
    ("review-letter", "sekcam", {"approved": True}),
    ("duplicate-letter", "staf", {"tembusan": ["Bupati Pamekasan (sebagai laporan)", "Inspektur Kabupaten Pamekasan"]}),
]
LAMBANG_SIZE = (64, 80)  # Pamekasan's own lambang in the data dir's lambang folder (a red 64 x 80 px PNG)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The letters' data dir, with Kabupaten Pamekasan's lambang where a kabupaten puts it (lambang/pamekasan.png)."""
    from PIL import Image

    path = tmp_path_factory.mktemp("letters-data")
    (path / "lambang").mkdir()
    Image.new("RGB", LAMBANG_SIZE, (200, 30, 30)).save(path / "lambang" / "pamekasan.png")
    return path


@pytest.fixture(scope="module")
def letters_settings(settings, data_dir):
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def wf(letters_settings):
    container = bootstrap(letters_settings)
    yield container
    container.engine.dispose()


def to_step_10(wf, kecamatan: str, camat: str) -> uuid.UUID:
    cid = new_complaint(wf, kecamatan)
    now = datetime.now(UTC)
    for version, (action, role, fields) in enumerate(TO_STEP_10, start=1):
        handlers.act(
            wf,
            cid,
            action,
            fields,
            expected_version=version,
            user_id=camat if role == "camat" else f"{role}.x",
            role=role,
            unit="pemerintahan",
            kecamatan=kecamatan,
            at=now,
            correlation_id=uuid.uuid4(),
        )
    return cid


def sign(wf, cid, kecamatan: str, camat: str):
    return handlers.act(
        wf,
        cid,
        "sign-letter",
        {},
        expected_version=9,
        user_id=camat,
        role="camat",
        unit=None,
        kecamatan=kecamatan,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


SIGNED = next(sub for sub in SUBSCRIPTIONS if sub.task == "letters.issue_signed_letter")


def start_letters_relay(background, wf, settings, only: str | None = "letters.issue_signed_letter") -> None:
    for sub in SUBSCRIPTIONS:
        if sub.queue == "letters" and (only is None or sub.task == only):
            dispatcher = EventDispatcher(wf.engine, wf.store, make_celery(settings, "t"), sub)
            background.start(
                Runner(wf.engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2)
            )


def issued_event(wf, cid):
    return next((e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterIssued"), None)


def new_kecamatan(engine, n: int = 1) -> list[str]:
    suffix = uuid.uuid4().hex[:5]
    places = [
        Kecamatan(
            f"surat-{suffix}-{i}",
            f"94.{suffix}.{i}",
            f"Surat {i}",
            "pamekasan",
            "Kabupaten Pamekasan",
            {
                "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
                "kecamatan": f"KECAMATAN SURAT {i}",
                "address": "Jalan Raya 1",
                "city": f"Surat {i}",
            },
        )
        for i in range(n)
    ]
    upsert_kecamatan(engine, places)
    for p in places:
        give_heads(engine, p.slug, ("pemerintahan",))  # the unit the walk disposes to has a head
    return [p.slug for p in places]


def test_the_camat_signs_and_a_verified_numbered_letter_comes_back(letters_settings, engine, spawn, background, wf):
    (slug,) = new_kecamatan(engine)
    camat = f"camat.{slug}"
    add_user(
        engine,
        camat,
        "Drs. H. Moh. Ma'ruf, M.Si.",
        "camat",
        "rahasia-uji-123",
        kecamatan=slug,
        nip="197001011990031001",
    )
    wf.directory._loaded_at = float("-inf")
    # at INFO each worker logs the id of every task it ran to its end: the copy below is awaited by its id
    letters_worker = spawn(
        "worker",
        "letters",
        "--concurrency",
        "1",
        settings_=letters_settings,
        PENGADUAN_DATA_DIR=letters_settings.data_dir,
        PENGADUAN_LOG_LEVEL="INFO",
    )
    workflow_worker = spawn(
        "worker", "workflow", "--concurrency", "1", settings_=letters_settings, PENGADUAN_LOG_LEVEL="INFO"
    )
    start_letters_relay(background, wf, letters_settings, only=None)

    cid = to_step_10(wf, slug, camat)
    state = sign(wf, cid, slug, camat)
    assert state.current_step == 11 and state.letter_number  # its form: tests/unit/test_letter_numbers.py
    with pytest.raises(handlers.model.LetterNotReady):
        handlers.act(
            wf,
            cid,
            "archive-letter",
            {},
            expected_version=10,
            user_id="s",
            role="staf",
            unit=None,
            kecamatan=slug,
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
    issued = wait_until(lambda: issued_event(wf, cid), timeout=90, message="the signed letter")
    assert issued.payload["letter_number"] == state.letter_number

    letters = letters_bootstrap(LettersSettings(**letters_settings.model_dump()))
    pdf = letters.documents.get(issued.payload["sha256"])
    content = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (
        state.letter_number,
        "Tanggapan atas pengaduan jalan rusak",
        "Yth. Sdr. Siti Aminah",
        "Dusun Bunangka",
        "Ma'ruf",
        "197001011990031001",
        "KECAMATAN SURAT 0",
        "Tembusan: 1. Yth. Bupati Pamekasan (sebagai laporan) 2. Yth. Inspektur Kabupaten Pamekasan",
    ):
        assert expected in " ".join(content.split()), expected
    assert "Jalan akan diperbaiki pada bulan Januari." not in content  # step 5's explanation: not pasted after
    # the kop carries the kabupaten's own lambang, read by the worker from its data dir
    assert LAMBANG_SIZE in [i.image.size for i in PdfReader(io.BytesIO(pdf)).pages[0].images]

    with TestClient(letters_app(letters)) as client:
        page = client.get(f"/v1/letters/verify/{issued.payload['document_id']}")
        assert page.status_code == 200
        body = page.json()
        assert (
            body["valid"]
            and body["letter_number"] == state.letter_number
            and body["sha256"] == issued.payload["sha256"]
        )
        html = client.get(f"/v1/letters/verify/{issued.payload['document_id']}", headers={"accept": "text/html"})
        assert "Surat ini asli" in html.text and state.letter_number in html.text
        assert "jalan rusak" not in page.text + html.text  # the perihal: on the citizen's paper, not on the public page

        genuine = client.post("/v1/letters/verify", content=pdf, headers={"content-type": "application/pdf"}).json()
        assert genuine["valid"] and genuine["document_id"] == issued.payload["document_id"]
        i = pdf.index(b"/Type")  # any byte inside what the signature covers
        tampered = pdf[:i] + b"/Tipe" + pdf[i + 5 :]
        forged = client.post("/v1/letters/verify", content=tampered, headers={"content-type": "application/pdf"}).json()
        assert not forged["valid"] and "TIDAK asli" in forged["message"]
        assert client.get(f"/v1/letters/verify/{uuid.uuid4()}").status_code == 404

    # the same task again (a redelivery): the same document and number, nothing new
    signed_id = next(e.event_id for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
    copy = f"copy-{signed_id}"
    make_celery(letters_settings, "t").send_task(
        "letters.issue_signed_letter",
        args=[{"event_id": str(signed_id)}],
        queue="letters",
        task_id=copy,
    )
    # the copy ran to its end, and the report it sent again reached the workflow (its second run of that report)
    wait_until(lambda: letters_worker.succeeded(copy) >= 1, timeout=60, message="the letters worker to run the copy")
    report = f"letter-issued:{issued.payload['document_id']}"
    wait_until(
        lambda: workflow_worker.succeeded(report) >= 2, timeout=60, message="the workflow to get the report again"
    )
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(documents)
                .where(documents.c.complaint_id == cid, documents.c.kind == "response_letter")
            ).scalar_one()
            == 1
        )
    assert [e.type for e in wf.store.read_stream(f"complaint-{cid}")].count("workflow.LetterIssued") == 1
    handlers.act(
        wf,
        cid,
        "archive-letter",
        {},
        expected_version=11,
        user_id="s",
        role="staf",
        unit=None,
        kecamatan=slug,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )

    # the receipt and the draft were made along the way; the signed letter reaches the complainant at step 12
    code = wf.store.read_stream(f"complaint-{cid}")[0].payload["tracking_code"]
    with TestClient(letters_app(letters)) as client:
        receipt = wait_until(
            lambda: (r := client.get(f"/v1/letters/track/{code}/receipt")).status_code == 200 and r,
            timeout=60,
            message="the receipt",
        )
        assert code in PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text()
        assert client.get(f"/v1/letters/track/{code}/letter").json()["code"] == "letter_not_released"
        handlers.act(
            wf,
            cid,
            "send-response",
            {"channel": "pos"},
            expected_version=12,
            user_id="s",
            role="staf",
            unit=None,
            kecamatan=slug,
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        letter = wait_until(
            lambda: (r := client.get(f"/v1/letters/track/{code}/letter")).status_code == 200 and r,
            timeout=60,
            message="the released letter",
        )
        assert letter.content == pdf

        def kinds() -> list[str]:
            with engine.connect() as conn:
                return sorted(conn.execute(select(documents.c.kind).where(documents.c.complaint_id == cid)).scalars())

        # and the Lembar Disposisi of step 4 (its own subscription: perhaps a moment behind)
        wanted = ["disposition_sheet", "draft", "receipt", "response_letter"]
        wait_until(lambda: kinds() == wanted, timeout=30, message=f"the documents {wanted}")
    letters.engine.dispose()


def test_100_letters_signed_concurrently_across_3_kecamatan_by_4_worker_processes(
    letters_settings, engine, spawn, background, wf
):
    slugs = new_kecamatan(engine, 3)
    wf.directory._loaded_at = float("-inf")
    for i in range(4):  # noqa: B007
        spawn(
            "worker",
            "letters",
            "--concurrency",
            "1",
            settings_=letters_settings,
            PENGADUAN_DATA_DIR=letters_settings.data_dir,
        )
    spawn("worker", "workflow", "--concurrency", "2", settings_=letters_settings)
    start_letters_relay(background, wf, letters_settings)
    plan = [(slugs[i % 3], to_step_10(wf, slugs[i % 3], f"camat.{slugs[i % 3]}")) for i in range(100)]

    def sign_one(item):
        slug, cid = item
        for _ in range(30):
            try:
                return sign(wf, cid, slug, f"camat.{slug}")
            except Exception as exc:  # a lost race on the append lock: retried, as a worker would
                if "Concurrency" not in type(exc).__name__ and "OperationalError" not in type(exc).__name__:
                    raise
        raise AssertionError("never signed")

    threads = [threading.Thread(target=lambda chunk=plan[i::8]: [sign_one(x) for x in chunk]) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: all(issued_event(wf, cid) for _, cid in plan), timeout=240, interval=1, message="100 letters")
    numbers = defaultdict(list)
    for slug, cid in plan:
        signed = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
        assert issued_event(wf, cid).payload["letter_number"] == signed.payload["letter_number"]
        numbers[slug].append(signed.payload["letter_sequence"])  # whatever the number's pattern
    for slug, got in numbers.items():
        assert sorted(got) == list(range(1, len(got) + 1)), f"{slug}: {sorted(got)}"
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(documents)
                .where(documents.c.kecamatan.in_(slugs), documents.c.kind == "response_letter")
            ).scalar_one()
            == 100
        )


def test_a_letters_worker_killed_mid_task_produces_the_letter_once_after_restart(
    letters_settings, engine, spawn, background, wf
):
    (slug,) = new_kecamatan(engine)
    wf.directory._loaded_at = float("-inf")
    workflow_worker = spawn(
        "worker", "workflow", "--concurrency", "1", settings_=letters_settings, PENGADUAN_LOG_LEVEL="INFO"
    )
    cid = to_step_10(wf, slug, f"camat.{slug}")
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE letters.documents IN EXCLUSIVE MODE"))  # the worker's insert will wait here
    try:
        worker = spawn(
            "worker",
            "letters",
            "--concurrency",
            "1",
            settings_=letters_settings,
            PENGADUAN_DATA_DIR=letters_settings.data_dir,
        )
        start_letters_relay(background, wf, letters_settings)
        sign(wf, cid, slug, f"camat.{slug}")

        def waiting_on_the_lock() -> bool:
            with engine.connect() as conn:
                return (
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%letters.documents%'"
                        )
                    ).scalar_one()
                    > 0
                )

        wait_until(waiting_on_the_lock, timeout=90, message="the worker to be inside the task")
        worker.kill()
    finally:
        blocker.rollback()
        blocker.close()
    restarted = spawn(
        "worker",
        "letters",
        "--concurrency",
        "1",
        settings_=letters_settings,
        PENGADUAN_DATA_DIR=letters_settings.data_dir,
        PENGADUAN_LOG_LEVEL="INFO",
    )
    issued = wait_until(lambda: issued_event(wf, cid), timeout=90, message="the letter after the restart")
    # the message the killed worker held ran to its end in the restarted one (INFO logs each task id it ran),
    # and the workflow handled the report that run sent
    signed_id = next(e.event_id for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
    held = f"{SIGNED.name}:{signed_id}"  # the relay's task id (services/workflow/relay.py)
    wait_until(
        lambda: restarted.succeeded(held) >= 1, timeout=60, message="the restarted worker to run the held message"
    )
    report = f"letter-issued:{issued.payload['document_id']}"
    wait_until(
        lambda: workflow_worker.succeeded(report) >= restarted.succeeded(held),
        timeout=60,
        message="the workflow to handle every report the restarted worker sent",
    )
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(documents)
                .where(documents.c.complaint_id == cid, documents.c.kind == "response_letter")
            ).scalar_one()
            == 1
        )
    assert [e.type for e in wf.store.read_stream(f"complaint-{cid}")].count("workflow.LetterIssued") == 1


# -- the public verification page (issue #12, security review): signed letters only, no perihal, rate-limited -------

PERIHAL = "Tanggapan atas pengaduan tanah warisan Bu Sumiati"


def a_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": uuid.uuid4().hex})  # its own digest
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stored_document(letters, engine, slug: str, complaint_id: uuid.UUID, kind: str, **fields) -> uuid.UUID:
    """A document as the letters worker records it: the PDF in the store, its row in letters.documents."""
    obj = letters.documents.put(a_pdf(), "application/pdf")
    document_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            documents.insert().values(
                id=document_id,
                source_event_id=uuid.uuid4(),
                complaint_id=complaint_id,
                tracking_code="ABCD-EFGH-JK",
                kecamatan=slug,
                kind=kind,
                sha256=obj.sha256,
                size=obj.size,
                perihal=PERIHAL,
                **fields,
            )
        )
    return document_id


@pytest.fixture
def documents_of_one_complaint(letters_settings, engine):
    """A receipt, a draft and the signed letter of one complaint, and the letters API over them."""
    (slug,) = new_kecamatan(engine)
    letters = letters_bootstrap(LettersSettings(**letters_settings.model_dump()))
    cid = uuid.uuid4()
    ids = {
        "receipt": stored_document(letters, engine, slug, cid, "receipt"),
        "draft": stored_document(letters, engine, slug, cid, "draft", letter_version=1),
        "letter": stored_document(
            letters,
            engine,
            slug,
            cid,
            "response_letter",
            letter_version=1,
            letter_number="001/PP.01/435.300/2026",
            signer="Drs. Camat",
            signed_on=datetime.now(UTC).date(),
        ),
    }
    yield slug, cid, ids, letters
    letters.engine.dispose()


def test_the_verification_page_answers_for_signed_letters_only(documents_of_one_complaint):
    """A receipt's or a draft's id (a kabupaten reader lists them) is no letter: the same 404 as an unknown id."""
    _slug, _cid, ids, letters = documents_of_one_complaint
    with TestClient(letters_app(letters)) as client:
        unknown = client.get(f"/v1/letters/verify/{uuid.uuid4()}")
        assert unknown.status_code == 404
        for kind in ("receipt", "draft"):
            for accept in ("application/json", "text/html"):
                r = client.get(f"/v1/letters/verify/{ids[kind]}", headers={"accept": accept})
                assert r.status_code == 404 and r.json() == unknown.json(), (kind, r.text)
        letter = client.get(f"/v1/letters/verify/{ids['letter']}")
        assert letter.status_code == 200 and letter.json()["letter_number"] == "001/PP.01/435.300/2026"


def test_the_verification_page_does_not_show_the_perihal(documents_of_one_complaint):
    _slug, _cid, ids, letters = documents_of_one_complaint
    with TestClient(letters_app(letters)) as client:
        body = client.get(f"/v1/letters/verify/{ids['letter']}").json()
        assert body["signer"] == "Drs. Camat" and body["kecamatan"] == "Surat 0"
        page = client.get(f"/v1/letters/verify/{ids['letter']}", headers={"accept": "text/html"}).text
        assert "Drs. Camat" in page
        uploaded = client.post(
            "/v1/letters/verify",
            content=letters.documents.get(body["sha256"]),
            headers={"content-type": "application/pdf"},
        ).text
        for shown in (json.dumps(body), page, uploaded):
            assert "Sumiati" not in shown and "Perihal" not in shown


def test_the_verification_page_is_rate_limited_per_address(letters_settings, documents_of_one_complaint):
    _slug, _cid, ids, _letters = documents_of_one_complaint
    limited = LettersSettings(**letters_settings.model_copy(update={"rate_limit_tracking": "3/minute"}).model_dump())
    letters = letters_bootstrap(limited)
    me = {"X-Forwarded-For": unique_address()}  # the test client plays the proxy
    with TestClient(ProxyHeadersMiddleware(letters_app(letters), trusted_hosts="testclient")) as client:
        answers = [client.get(f"/v1/letters/verify/{ids['letter']}", headers=me).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = client.get(f"/v1/letters/verify/{uuid.uuid4()}", headers=me)
        assert refused.json()["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    letters.engine.dispose()


def test_kabupaten_readers_list_the_signed_letter_only(letters_settings, documents_of_one_complaint):
    """Staff of the kecamatan list every document (they open them); a masked reader, who may open none of
    them, lists the signed letter only: what its QR code shows anyone."""
    slug, cid, ids, letters = documents_of_one_complaint
    staf = bearer_header(letters_settings, Principal(f"staf.{slug}", "Staf", "staf", kecamatan=slug))
    kabupaten = bearer_header(letters_settings, Principal(f"kab.{slug}", "Kab", "kabupaten", kabupaten="pamekasan"))
    admin = bearer_header(letters_settings, Principal(f"admin.{slug}", "Admin", "admin"))
    with TestClient(letters_app(letters)) as client:
        inside = client.get(f"/v1/letters/complaints/{cid}", headers=staf)
        assert inside.status_code == 200
        assert {d["kind"] for d in inside.json()} == {"receipt", "draft", "response_letter"}
        for reader in (kabupaten, admin):
            listed = client.get(f"/v1/letters/complaints/{cid}", headers=reader)
            assert listed.status_code == 200
            assert [(d["id"], d["kind"]) for d in listed.json()] == [(str(ids["letter"]), "response_letter")]
