"""Issue #15 item 5, notify's part: a followed referral tells the complainant three things, on their own channel:
that it was referred and until when the kecamatan follows it (``referred``), then either what the receiving
office answered (``referral_answered``) or that the follow-up time passed without an answer and where to ask
(``referral_lapsed``). The texts by e-mail, SMS (one segment) and WhatsApp (approved templates only), the date
in the kabupaten's time zone, and a referral made before referrals were followed still reading as it did.

On the in-memory unit of work and channels of tests/unit/test_notify_flow.py; the same over PostgreSQL and the
development sinks: tests/integration/test_notify_referral.py."""

from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.notify.domain import plan as p
from services.notify.domain.templates import (
    DEFAULTS,
    VARIABLES,
    render,
    sample_variables,
    sms_segments,
    to_gsm,
    whatsapp_parameters,
)
from services.notify.handlers.planning import plan_event
from services.workflow.domain import commands as c
from services.workflow.domain import model
from shared.calendar import WorkingCalendar
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.tracking import new_tracking_code
from shared.contracts.workflow import ComplaintReferred, ReferralAnswered, ReferralLapsed
from tests.unit.test_notify_flow import Channel, Notify

AGENCY = "Dinas PUPR Kabupaten Pamekasan"
ADDRESS = "Jl. Kabupaten No. 1, Pamekasan"
LETTER = "000.8.3.4/13/432.407/2026"  # the sample of services/notify/domain/templates.py
# 23.30 WIB on Friday 20 March, but already Saturday 21 March in WITA (and 20 March 16.30 in UTC)
FOLLOW_UP_BY = datetime(2026, 3, 20, 16, 30, tzinfo=UTC)
# 01.00 WIB on Saturday 21 March: still the 20th in UTC
FOLLOW_UP_BY_AFTER_MIDNIGHT = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
ANSWER = "Perbaikan jalan itu sudah masuk jadwal pemeliharaan Dinas PUPR pada Januari 2027."


# -- the texts -----------------------------------------------------------------------------------------------
# what a referral said before referrals were followed (a ComplaintReferred without follow_up_by still says it)
OLD_REFERRED = {
    "email": (
        "Yth. Bapak/Ibu Siti Aminah,\n\nPengaduan ABCD-EFGH-JK bukan kewenangan Kecamatan Pegantenan dan sudah kami limpahkan "
        "kepada Dinas PUPR Kabupaten Pamekasan.\nAlasan: Perbaikan jalan kabupaten adalah kewenangan Dinas PUPR.\n\n"
        "Status: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK\n\n"
        "Atas perhatian Saudara, kami sampaikan terima kasih.\n\nKecamatan Pegantenan\n"
        "Layanan pengaduan ini tidak dipungut biaya."
    ),
    "sms": (
        "Pengaduan ABCD-EFGH-JK dilimpahkan ke Dinas PUPR Kabupaten Pamekasan. "
        "Info: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK"
    ),
    "whatsapp": (
        "Yth. Bapak/Ibu Siti Aminah, pengaduan *ABCD-EFGH-JK* bukan kewenangan kecamatan dan sudah kami limpahkan kepada "
        "Dinas PUPR Kabupaten Pamekasan.\nAlasan: Perbaikan jalan kabupaten adalah kewenangan Dinas PUPR.\n"
        "Status: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK\n- Kecamatan Pegantenan"
    ),
}


@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp"])
def test_a_referral_made_before_referrals_were_followed_reads_as_it_did(channel):
    _, body = render(DEFAULTS[("referred", channel)], {**sample_variables("referred"), "pantau_sampai": ""})
    assert body == OLD_REFERRED[channel]


@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp"])
def test_a_followed_referral_says_until_when_it_is_followed(channel):
    _, body = render(DEFAULTS[("referred", channel)], sample_variables("referred"))
    assert "16 Desember 2026" in body and AGENCY in body
    if channel != "sms":
        assert "memantau pelimpahan ini sampai 16 Desember 2026" in body and "tanggapan" in body.lower()
        assert "jawaban" not in body.lower()  # one term: the office's answer is its tanggapan


LONG_AGENCY = "Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"


@pytest.mark.parametrize(
    "kind,values",
    [
        ("referred", {"instansi": LONG_AGENCY, "pantau_sampai": "30 September 2026"}),
        ("referred", {"instansi": "Badan Pertanahan Nasional Pamekasan", "pantau_sampai": "30 September 2026"}),
        ("referred", {"instansi": LONG_AGENCY, "pantau_sampai": ""}),
        ("referral_answered", {"instansi": LONG_AGENCY, "tanggapan": ANSWER * 3}),
        ("referral_answered", {"instansi": "Badan Pertanahan Nasional", "tanggapan": "Sudah\ndiukur ulang. " * 9}),
        ("referral_answered", {"instansi": "X" * 80, "tanggapan": "Y" * 200}),  # no space to cut at
        ("referral_lapsed", {"instansi": LONG_AGENCY}),
        ("referral_lapsed", {"instansi": "Badan Pertanahan Nasional"}),
        ("referral_lapsed", {"instansi": "X" * 80}),
    ],
)
def test_every_referral_sms_fits_one_segment_whatever_the_office_and_answer(kind, values):
    """Long names and answers are cut (the whole text is in the e-mail and the WhatsApp message); a tracking
    link of the usual length always fits."""
    _, body = render(DEFAULTS[(kind, "sms")], {**sample_variables(kind), **values})
    text = to_gsm(body)
    assert sms_segments(text) == 1 and len(text) <= 160, text
    assert "ABCD-EFGH-JK" in text and text.endswith("https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK")
    assert "\n" not in text


def test_the_answer_by_email_and_whatsapp_is_whole_with_its_date_and_reference():
    for channel in ("email", "whatsapp"):
        subject, body = render(DEFAULTS[("referral_answered", channel)], sample_variables("referral_answered"))
        assert "Perbaikan jalan itu sudah masuk jadwal pemeliharaan Dinas PUPR pada Januari 2027." in body
        assert "pada 9 Desember 2026 (surat 600/123/432.305/2026):" in body
        assert "kami tutup" in body and "https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK" in body
    assert subject is None
    subject, _ = render(DEFAULTS[("referral_answered", "email")], sample_variables("referral_answered"))
    assert subject == "Tanggapan Dinas PUPR Kabupaten Pamekasan atas pengaduan ABCD-EFGH-JK"
    # an answer by telephone, undated: no empty parentheses, no "pada"
    _, body = render(
        DEFAULTS[("referral_answered", "email")],
        {**sample_variables("referral_answered"), "tanggal_tanggapan": "", "rujukan": ""},
    )
    assert "sudah memberikan tanggapan:\n\nPerbaikan jalan" in body and "()" not in body


def test_a_lapsed_referral_says_where_to_ask_with_the_address_and_letter_when_known():
    for channel in ("email", "whatsapp"):
        _, body = render(DEFAULTS[("referral_lapsed", channel)], sample_variables("referral_lapsed"))
        assert "16 Desember 2026" in body and "tidak lagi memantau" in body
        assert f"{AGENCY}, {ADDRESS}" in body and LETTER in body
        _, bare = render(
            DEFAULTS[("referral_lapsed", channel)],
            {**sample_variables("referral_lapsed"), "alamat_instansi": "", "surat_pelimpahan": ""},
        )
        assert ADDRESS not in bare and LETTER not in bare and "nomor" not in bare
        assert f"langsung kepada {AGENCY}" in bare and " ," not in bare and ",." not in bare
    _, sms = render(DEFAULTS[("referral_lapsed", "sms")], sample_variables("referral_lapsed"))
    assert "belum menanggapi" in sms and "hubungi langsung" in sms


def test_an_approved_whatsapp_template_keeps_the_parameters_it_was_approved_with():
    """Meta refuses a template message whose parameter count is not the approved one: the follow-up date,
    added to ``referred`` later, is not sent to a ``referred`` template approved before it."""
    assert whatsapp_parameters("referred") == ("nama", "kode", "kecamatan", "instansi", "alasan", "link_lacak")
    assert "pantau_sampai" in VARIABLES["referred"]
    assert whatsapp_parameters("referral_answered") == VARIABLES["referral_answered"]
    assert whatsapp_parameters("referral_lapsed") == VARIABLES["referral_lapsed"]


def test_a_date_is_the_kabupatens_own():
    assert p.tanggal(FOLLOW_UP_BY) == "20 Maret 2026"  # 23.30 WIB
    assert p.tanggal(FOLLOW_UP_BY_AFTER_MIDNIGHT) == "21 Maret 2026"  # 01.00 WIB, the 20th in UTC
    wita = ZoneInfo("Asia/Makassar")
    assert p.tanggal(FOLLOW_UP_BY, zone=wita) == "21 Maret 2026"
    assert p.tanggal(FOLLOW_UP_BY, True, wita, "WITA") == "21 Maret 2026 00.30 WITA"


# -- planned and sent ------------------------------------------------------------------------------------------
def channel(name: str) -> Channel:
    """An in-memory channel named ``name`` (test_notify_flow's SMS gateway, renamed)."""
    ch = Channel()
    ch.name, ch.provider = name, f"memory-{name}"
    return ch


class Referral:
    """A complaint's stream as the workflow writes it, and notify planning (and sending) each event."""

    def __init__(self, notify: Notify, channel: str, email: str | None, phone: str | None) -> None:
        self.notify = notify
        self.code = new_tracking_code(os.urandom(7))
        submission = ComplaintSubmitted(
            submission_id=uuid.uuid4(),
            complaint_id=uuid.uuid4(),
            tracking_code=self.code,
            kecamatan="pegantenan",
            channel=channel,
            complainant=Complainant(name="Siti Aminah", email=email, phone=phone),
            subject="Jalan kabupaten rusak",
            description="Jalan kabupaten di Dusun Bunangka rusak sejak Januari.",
            received_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            correlation_id=uuid.uuid4(),
        )
        [received] = model.decide(model.Complaint(), c.RecordComplaint(submission=submission), WorkingCalendar())
        self.stream = f"complaint-{submission.complaint_id}"
        self.tell(received)

    def tell(self, event) -> list[dict]:
        """Append ``event`` and plan it; the complainant's messages it made (sent at once)."""
        event_id = self.notify.append(self.stream, event)
        plan_event(self.notify.ctx, event_id)
        return [r for r in self.notify.rows() if r["source_event_id"] == event_id and r["audience"] == "complainant"]

    def referred(self, follow_up_by: datetime | None = FOLLOW_UP_BY, **fields) -> list[dict]:
        return self.tell(
            ComplaintReferred(
                agency=AGENCY,
                agency_kind="opd",
                reason="Jalan kabupaten adalah kewenangan Dinas PUPR.",
                follow_up_by=follow_up_by,
                **fields,
            )
        )


@pytest.fixture
def notify() -> Notify:
    n = Notify(public_base_url="https://pengaduan.example.id")
    n.email, n.whatsapp = channel("email"), channel("whatsapp")
    n.ctx.channels.update(email=n.email, whatsapp=n.whatsapp)
    return n


def new_phone() -> str:
    return "+62812" + str(uuid.uuid4().int)[:8]


def test_by_email_the_complainant_is_told_of_the_referral_then_of_the_answer(notify):
    r = Referral(notify, "web", "siti@example.id", new_phone())
    [referred] = r.referred(agency_address=ADDRESS, letter_number=LETTER)
    assert (referred["kind"], referred["channel"], referred["state"]) == ("referred", "email", "sent")
    assert referred["variables"]["pantau_sampai"] == "20 Maret 2026"  # 23.30 WIB
    [answered] = r.tell(
        ReferralAnswered(answer=ANSWER, answered_on=date(2026, 3, 12), reference="Surat 600/123/432.305/2026")
    )
    assert (answered["kind"], answered["channel"], answered["state"]) == ("referral_answered", "email", "sent")
    first, second = notify.email.sent[-2:]
    assert first.subject == f"Pengaduan {r.code} dilimpahkan kepada {AGENCY}"
    assert "Kami memantau pelimpahan ini sampai 20 Maret 2026." in first.text
    assert f"https://pengaduan.example.id/lacak/{r.code}" in first.text
    assert second.subject == f"Tanggapan {AGENCY} atas pengaduan {r.code}"
    assert (
        f"{AGENCY}. Instansi tersebut sudah memberikan tanggapan pada 12 Maret 2026 (Surat 600/123/432.305/2026):"
        in second.text
    )
    assert ANSWER in second.text and f"https://pengaduan.example.id/lacak/{r.code}" in second.text
    assert notify.sms.sent == [] and notify.whatsapp.sent == []


def test_by_sms_the_follow_up_date_is_the_kecamatans_and_the_lapse_says_where_to_ask(notify):
    phone = new_phone()
    r = Referral(notify, "sms", None, phone)
    [referred] = r.referred(follow_up_by=FOLLOW_UP_BY_AFTER_MIDNIGHT, agency_address=ADDRESS)
    assert (referred["channel"], referred["recipient"]) == ("sms", phone)
    sms = notify.sms.sent[-1].text
    assert sms == (
        f"Pengaduan {r.code} dilimpahkan ke {AGENCY}, dipantau s.d. 21 Maret 2026. https://pengaduan.example.id/lacak/{r.code}"
    )
    [lapsed] = r.tell(ReferralLapsed(reason="Tidak ada tanggapan sampai batas waktu pemantauan kecamatan."))
    assert (lapsed["kind"], lapsed["channel"], lapsed["state"]) == ("referral_lapsed", "sms", "sent")
    assert lapsed["variables"]["pantau_sampai"] == "21 Maret 2026"
    assert lapsed["variables"]["alamat_instansi"] == ADDRESS and lapsed["variables"]["surat_pelimpahan"] == ""
    sms = notify.sms.sent[-1].text
    assert sms == (
        f"Pengaduan {r.code} ditutup: Dinas PUPR Kabupaten... belum menanggapi. Silakan hubungi langsung. "
        f"https://pengaduan.example.id/lacak/{r.code}"
    )
    assert all(sms_segments(m.text) == 1 for m in notify.sms.sent)


def test_in_a_wita_kabupaten_the_follow_up_date_is_witas(notify):
    pegantenan = notify.ctx.directory["pegantenan"]
    elsewhere = dataclasses.replace(pegantenan, kabupaten_settings={"time_zone": "Asia/Makassar"})
    notify.ctx.directory = {**notify.ctx.directory, "pegantenan": elsewhere}
    r = Referral(notify, "email", "siti@example.id", None)
    [referred] = r.referred()  # 16.30 UTC: 23.30 WIB on the 20th, 00.30 WITA on the 21st
    assert referred["variables"]["pantau_sampai"] == "21 Maret 2026"
    assert "sampai 21 Maret 2026" in notify.email.sent[-1].text


def test_an_old_referral_without_a_follow_up_time_keeps_the_old_text(notify):
    r = Referral(notify, "sms", None, new_phone())
    [referred] = r.referred(follow_up_by=None)
    assert referred["variables"]["pantau_sampai"] == ""
    assert (
        notify.sms.sent[-1].text
        == f"Pengaduan {r.code} dilimpahkan ke {AGENCY}. Info: https://pengaduan.example.id/lacak/{r.code}"
    )


def test_on_whatsapp_without_an_approved_template_the_same_number_gets_an_sms(notify):
    phone = new_phone()
    r = Referral(notify, "whatsapp", None, phone)
    [referred] = r.referred()
    [answered] = r.tell(ReferralAnswered(answer=ANSWER))
    assert {(m["channel"], m["recipient"]) for m in (referred, answered)} == {("sms", phone)}
    # WhatsApp carried only the acknowledgment (inside the window the complainant's own message opened)
    assert [r["kind"] for r in notify.rows() if r["channel"] == "whatsapp"] == ["acknowledgment"]
    assert len(notify.whatsapp.sent) == 1
    assert len(notify.sms.sent) == 2
    assert notify.sms.sent[-1].text.startswith(f"Pengaduan {r.code}: Dinas PUPR Kabupaten... menanggapi: Perbaikan")


def test_on_whatsapp_an_approved_template_gets_the_kinds_parameters_on_one_line():
    notify = Notify(
        public_base_url="https://pengaduan.example.id",
        whatsapp_templates={"referred": "pelimpahan", "referral_answered": "jawaban_pelimpahan"},
    )
    notify.whatsapp = channel("whatsapp")
    notify.ctx.channels["whatsapp"] = notify.whatsapp
    phone = new_phone()
    r = Referral(notify, "whatsapp", None, phone)
    r.referred()
    [answered] = r.tell(ReferralAnswered(answer="Sudah dijadwalkan.\n\nTerima kasih.", answered_on=None))
    assert answered["channel"] == "whatsapp"
    referred_msg, answered_msg = notify.whatsapp.sent[-2:]
    assert referred_msg.template == "pelimpahan"
    assert referred_msg.template_params == (
        "Siti Aminah",
        r.code,
        "Pegantenan",
        AGENCY,
        "Jalan kabupaten adalah kewenangan Dinas PUPR.",
        f"https://pengaduan.example.id/lacak/{r.code}",
    )  # as approved: without the follow-up date
    assert answered_msg.template == "jawaban_pelimpahan"
    assert answered_msg.template_params == (
        "Siti Aminah",
        r.code,
        "Pegantenan",
        AGENCY,
        "Sudah dijadwalkan. Terima kasih.",  # no line break: the Cloud API refuses one in a parameter
        "-",  # undated
        "-",  # no reference: never an empty parameter
        f"https://pengaduan.example.id/lacak/{r.code}",
    )
    # the stored body is the default text, kept as what the complainant was told
    assert "Sudah dijadwalkan.\n\nTerima kasih." in answered["body"]


def test_an_answer_without_a_referral_in_its_stream_is_an_error_not_a_message(notify):
    r = Referral(notify, "email", "siti@example.id", None)
    with pytest.raises(LookupError, match="ComplaintReferred"):
        r.tell(ReferralAnswered(answer=ANSWER))
