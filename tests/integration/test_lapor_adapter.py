"""The SP4N-LAPOR! adapter (services/lapor/adapters/http.py, its shapes in mapping.py) against the local fake
LAPOR! (devtools/lapor) over real sockets: dispositions paged by cursor, attachments, the acknowledgement, and
follow-ups whose idempotency key keeps a retry after a lost answer from adding a second one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.lapor.server import DEV_TOKEN, LaporServer
from services.lapor.adapters import mapping
from services.lapor.adapters.http import HttpLaporApi
from services.lapor.domain.model import FollowUp, LaporAttachment
from services.lapor.domain.ports import LaporAnswerLost, LaporRejected, LaporUnavailable

WHEN = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def lapor():
    with LaporServer(hold=1.5) as server:
        yield server


@pytest.fixture
def api(lapor):
    client = HttpLaporApi(lapor.url, DEV_TOKEN, timeout=0.7)
    yield client
    client.close()


def test_dispositions_are_read_page_by_page_with_their_fields_and_attachments(lapor, api):
    first = lapor.dispose(
        "INS-1",
        title="Jalan rusak",
        content="Jalan desa berlubang.",
        category="Infrastruktur",
        reporter={"nama": "Siti", "telepon": "+6281234567890", "email": "siti@example.id"},
        files={"foto.jpg": b"\xff\xd8\xff\xe0 jpeg bytes"},
    )
    lapor.dispose("INS-2", title="Lain instansi", content="Bukan untuk INS-1.")
    second = lapor.dispose("INS-1", title="Rahasia", content="Isi.", anonymous=True, confidential=True)

    page = api.dispositions("INS-1", None)
    assert [r.tracking_id for r in page.reports] == [first, second]
    report = page.reports[0]
    assert (report.title, report.content, report.category) == ("Jalan rusak", "Jalan desa berlubang.", "Infrastruktur")
    assert (report.reporter_name, report.reporter_phone, report.reporter_email) == (
        "Siti",
        "+6281234567890",
        "siti@example.id",
    )
    assert api.attachment(report.attachments[0]) == b"\xff\xd8\xff\xe0 jpeg bytes"
    assert page.reports[1].anonymous and page.reports[1].confidential and page.reports[1].reporter_name is None
    # after the cursor: nothing new, then only what came later
    assert api.dispositions("INS-1", page.next_cursor).reports == ()
    third = lapor.dispose("INS-1", title="Baru", content="Isi baru.")
    assert [r.tracking_id for r in api.dispositions("INS-1", page.next_cursor).reports] == [third]


def test_a_follow_up_sent_again_under_its_key_is_added_once(lapor, api):
    tracking_id = lapor.dispose("INS-1", title="Judul", content="Isi.")
    follow_up = FollowUp("registered", "proses", "Pengaduan dicatat.", WHEN)
    first = api.follow_up(tracking_id, follow_up, "key-1")
    assert api.follow_up(tracking_id, follow_up, "key-1") == first
    assert [f["isi"] for f in lapor.follow_ups(tracking_id)] == ["Pengaduan dicatat."]


def test_a_dropped_answer_is_lost_not_failed_and_its_retry_does_not_double(lapor, api):
    tracking_id = lapor.dispose("INS-1", title="Judul", content="Isi.")
    lapor.fail("follow_up", "drop")
    closing = FollowUp("closed", "selesai", "Selesai ditangani.", WHEN, letter_number="400/12/2026")
    with pytest.raises(LaporAnswerLost):
        api.follow_up(tracking_id, closing, "key-close")
    assert len(lapor.follow_ups(tracking_id)) == 1  # LAPOR! did it; we did not hear
    api.follow_up(tracking_id, closing, "key-close")
    [only] = lapor.follow_ups(tracking_id)
    assert (only["status"], only["nomor_surat"]) == ("selesai", "400/12/2026")


def test_failures_are_classified(lapor, api):
    tracking_id = lapor.dispose("INS-1", title="Judul", content="Isi.")
    follow_up = FollowUp("registered", "proses", "Dicatat.", WHEN)
    lapor.fail("any", "error500", times=2)
    with pytest.raises(LaporUnavailable):
        api.dispositions("INS-1", None)
    with pytest.raises(LaporUnavailable):
        api.follow_up(tracking_id, follow_up, "k")
    lapor.fail("dispositions", "timeout")
    with pytest.raises(LaporUnavailable):  # a read: nothing was done there
        api.dispositions("INS-1", None)
    lapor.fail("follow_up", "timeout")
    with pytest.raises(LaporAnswerLost):  # a write sent and unanswered may have been done
        api.follow_up(tracking_id, follow_up, "k")
    with pytest.raises(LaporRejected) as refused:
        api.follow_up("no-such-report", follow_up, "k2")
    assert refused.value.status == 404
    assert lapor.follow_ups(tracking_id) == []


def test_a_wrong_token_is_refused_and_no_token_goes_to_another_host(lapor):
    wrong = HttpLaporApi(lapor.url, "not-the-token", timeout=2)
    with pytest.raises(LaporRejected) as refused:
        wrong.dispositions("INS-1", None)
    assert refused.value.status == 401
    with pytest.raises(LaporRejected):
        wrong.attachment(LaporAttachment("x.jpg", "http://198.51.100.7/files/x.jpg"))
    wrong.close()


def test_the_acknowledgement_carries_our_reference(lapor, api):
    tracking_id = lapor.dispose("INS-1", title="Judul", content="Isi.")
    api.acknowledge(tracking_id, "PGD-AAAA-BBBB")
    api.acknowledge(tracking_id, "PGD-AAAA-BBBB")
    assert lapor.acknowledged() == {tracking_id: "PGD-AAAA-BBBB"}


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"status": "error", "data": []},
        {"status": "success", "data": {"tracking_id": "1"}},
    ],
)
def test_an_answer_of_another_shape_is_a_mapping_error(body):
    with pytest.raises(mapping.MappingError):
        mapping.parse_dispositions(body, "INS-1")


@pytest.mark.parametrize(
    "item",
    [
        {"judul": "tanpa id", "isi": "x"},
        {"tracking_id": "1", "judul": "x", "isi": "y", "tanggal_laporan": "kemarin"},
        {"tracking_id": "1", "isi": "y"},
        {"tracking_id": "1", "judul": "x", "isi": "y", "lampiran": "bukan daftar"},
        {"tracking_id": "1 é", "judul": "x", "isi": "y"},
        {"tracking_id": "x" * 80, "judul": "x", "isi": "y"},
    ],
)
def test_a_report_of_another_shape_is_kept_unreadable_and_the_page_goes_on(item):
    """The attack review's finding: one bad report blocked its instansi for good. Now it is kept aside (its own id
    if usable, else a stand-in derived from it) and the good reports and the cursor go on."""
    good = {
        "tracking_id": "2",
        "judul": "Jalan\x00 rusak",  # NUL and the like dropped: the JSONB column refuses them
        "isi": "Isi",
        "tanggal_laporan": "2026-03-02T08:00:00+07:00",
        "tanggal_disposisi": "2026-03-02T09:00:00+07:00",
    }
    page = mapping.parse_dispositions(
        {"status": "success", "data": [item, good], "meta": {"next_cursor": "c2"}}, "INS-1"
    )
    assert [r.tracking_id for r in page.reports] == ["2"] and page.reports[0].title == "Jalan rusak"
    assert page.next_cursor == "c2" and len(page.unreadable) == 1
    kept_as, why = page.unreadable[0]
    assert mapping.TRACKING_ID.match(kept_as) and why


def test_people_trying_the_bridge_dispose_reports_and_see_what_came_back(lapor, api):
    import httpx

    answer = httpx.post(
        f"{lapor.url}/dev/lapor/disposisi",
        json={"instansi_id": "INS-9", "title": "Coba", "content": "Laporan uji.", "category": "Kesehatan"},
    )
    assert answer.status_code == 201
    tracking_id = answer.json()["tracking_id"]
    [report] = api.dispositions("INS-9", None).reports
    assert (report.tracking_id, report.category) == (tracking_id, "Kesehatan")
    api.follow_up(tracking_id, FollowUp("registered", "proses", "Dicatat.", WHEN), "k-dev")
    seen = httpx.get(f"{lapor.url}/dev/lapor").json()
    assert [f["isi"] for f in seen["follow_ups"][tracking_id]] == ["Dicatat."]
    assert httpx.post(f"{lapor.url}/dev/lapor/disposisi", json={"title": "x"}).status_code == 422
