"""The inbox pages and filters (issue #15 item 7): under a backlog larger than the old 500-row cap every
complaint is reachable, overdue ones come first, then by due time; filters by unit, channel, received date and
a search by tracking code or register number; bad filters are refused clearly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pengaduan import apps
from services.accounts.handlers import add_user
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from shared.calendar import WIB
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import record_complaint

PASSWORD = "rahasia-uji-yang-panjang"
BACKLOG = 505


@pytest.fixture(scope="module")
def wf(settings):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def backlog(wf, engine):
    """A kecamatan with 505 complaints waiting at step 2, received over the last days (all overdue but the
    newest), one old one by SMS, and a Kasi to read them."""
    suffix = uuid.uuid4().hex[:8]
    slug = f"inbox-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"96.{suffix}", "Inbox", "pamekasan", "Kabupaten Pamekasan", {})])
    add_user(engine, f"kasi.{slug}", "Kasi", "kasi", PASSWORD, kecamatan=slug, unit="pemerintahan")
    add_user(engine, f"camat.{slug}", "Camat", "camat", PASSWORD, kecamatan=slug)
    now = datetime.now(UTC)
    oldest = record_complaint(wf, slug, channel="sms", received_at=now - timedelta(days=40))
    middle = [record_complaint(wf, slug, received_at=now - timedelta(days=30, minutes=i)) for i in range(BACKLOG - 2)]
    newest = record_complaint(wf, slug, received_at=now)
    return slug, oldest, middle, newest


@pytest.fixture(scope="module")
def client(wf):
    with TestClient(apps.workflow(wf)) as c:
        yield c


def inbox_of(client, username: str):
    r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return lambda **params: client.get("/v1/inbox", params=params, headers=headers)


@pytest.fixture(scope="module")
def kasi(client, backlog):
    return inbox_of(client, f"kasi.{backlog[0]}")


def test_every_complaint_of_a_large_backlog_is_reachable_overdue_first(kasi, backlog):
    _slug, oldest, _middle, newest = backlog
    first = kasi(per_page=50)
    assert first.status_code == 200 and first.headers["X-Total-Count"] == str(BACKLOG)
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert first.json()[0]["id"] == str(oldest.complaint_id) and first.json()[0]["overdue"]
    seen = []
    page = 1
    while True:
        r = kasi(per_page=200, page=page)
        seen += [i["id"] for i in r.json()]
        if "Link" not in r.headers:
            break
        page += 1
    assert len(seen) == len(set(seen)) == BACKLOG
    assert seen[-1] == str(newest.complaint_id)  # not overdue: after every overdue one
    assert kasi(page=1000).json() == []


def test_filters_and_search(kasi, backlog):
    _slug, oldest, middle, newest = backlog
    by_channel = kasi(channel="sms")
    assert [i["id"] for i in by_channel.json()] == [str(oldest.complaint_id)]
    today = datetime.now(UTC).astimezone(WIB).date()  # the kabupaten's date, whatever the server's zone
    recent = kasi(received_from=str(today), received_to=str(today))
    assert str(newest.complaint_id) in {i["id"] for i in recent.json()} and recent.headers["X-Total-Count"] == "1"
    found = kasi(q=middle[7].tracking_code.lower().replace("-", ""))
    assert [i["id"] for i in found.json()] == [str(middle[7].complaint_id)]
    assert kasi(q="bukan kode").json() == [] and kasi(unit="trantib").json() == []


@pytest.mark.parametrize(
    "params, code",
    [
        ({"per_page": 1000}, "validation_error"),
        ({"page": 0}, "validation_error"),
        ({"received_from": "kemarin"}, "validation_error"),
        ({"received_from": "2026-12-02", "received_to": "2026-12-01"}, "invalid_period"),
        ({"q": "x" * 100}, "validation_error"),
    ],
)
def test_bad_filters_are_refused(kasi, params, code):
    r = kasi(**params)
    assert r.status_code == 422 and r.json()["code"] == code, r.text


def test_search_by_register_number(wf, client, kasi, backlog):
    slug, _oldest, middle, _newest = backlog
    target = middle[3]
    at = datetime.now(UTC)
    state = handlers.act(wf, target.complaint_id, "verify-identity", {}, expected_version=1, user_id="k",
                         role="kasi", unit="pemerintahan", kecamatan=slug, at=at, correlation_id=uuid.uuid4())  # fmt: skip
    state = handlers.act(wf, target.complaint_id, "register", {}, expected_version=state.revision, user_id="s",
                         role="staf", unit=None, kecamatan=slug, at=at, correlation_id=uuid.uuid4())  # fmt: skip
    number = f"{state.register_number}/{state.register_year}"
    camat = inbox_of(client, f"camat.{slug}")  # registered: step 4 waits on the Camat
    for q in (number, str(state.register_number)):
        (found,) = camat(q=q).json()
        assert found["id"] == str(target.complaint_id) and found["register_number"] == number
    assert camat(q=f"{state.register_number}/1999").json() == []
    missing = kasi(q=number)  # no longer the Kasi's
    assert missing.json() == [] and missing.headers["X-Total-Count"] == "0"
