"""Pelapor rahasia by keyword (issue #17 item 5): on SMS, WhatsApp and e-mail a complainant asks that their identity
be kept confidential by beginning the message (or the e-mail's Subject) with the word RAHASIA, and the acknowledgment
tells them it is. The rule itself (``services.intake.domain.inbound.confidential_keyword``) and the acknowledgment's
texts, pure; the channels over a real database: tests/integration/test_confidential_keyword.py."""

from __future__ import annotations

import uuid

import pytest

from services.intake.domain import inbound as parse
from services.notify.domain import plan as p
from services.notify.domain.templates import (
    DEFAULTS,
    VARIABLES,
    render,
    sample_variables,
    sms_segments,
    to_gsm,
    validate,
    whatsapp_parameters,
)

# -- the rule -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, rest",
    [
        ("RAHASIA Jalan desa rusak", "Jalan desa rusak"),
        ("rahasia Jalan desa rusak", "Jalan desa rusak"),
        ("Rahasia\nJalan desa rusak\nSudah tiga bulan.", "Jalan desa rusak\nSudah tiga bulan."),
        ("RAHASIA: Jalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA : Jalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA:Jalan desa rusak", "Jalan desa rusak"),
        ("#RAHASIA Jalan desa rusak", "Jalan desa rusak"),
        ("#rahasia\n\nJalan desa rusak", "Jalan desa rusak"),
        ("  RAHASIA   Jalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA\tJalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA", ""),  # the word alone: a confidential complaint without text ("(tanpa teks)")
        ("RAHASIA:", ""),
        # read generously (a miss shows a whistleblower's name to every Staf; a match only hides a name)
        ("RAHASIA, jalan desa rusak", "jalan desa rusak"),
        ("RAHASIA-jalan desa rusak", "jalan desa rusak"),
        ("RAHASIA. Jalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA! Jalan desa rusak", "Jalan desa rusak"),
        ("RAHASIA \u2013 Jalan desa rusak", "Jalan desa rusak"),
        ("##RAHASIA jalan desa rusak", "jalan desa rusak"),
        ("*RAHASIA* jalan desa rusak", "jalan desa rusak"),  # WhatsApp's bold
        ("_rahasia_ jalan desa rusak", "jalan desa rusak"),  # and italics
        ("[RAHASIA] jalan desa rusak", "jalan desa rusak"),
        ("(Rahasia) jalan desa rusak", "jalan desa rusak"),
        ("\ufeffRAHASIA jalan desa rusak", "jalan desa rusak"),  # a byte-order mark an SMS gateway left
        ("\u200bRAHASIA jalan desa rusak", "jalan desa rusak"),  # a zero-width space
        ("\u200e\u2060 RAHASIA jalan desa rusak", "jalan desa rusak"),
        ("\uff32\uff21\uff28\uff21\uff33\uff29\uff21 jalan desa rusak", "jalan desa rusak"),  # full width
        ("rahasia\uff1a jalan desa rusak", "jalan desa rusak"),
    ],
)
def test_a_message_beginning_with_the_word_asks_for_confidentiality_and_loses_the_word(text, rest):
    asked = parse.confidential_keyword(text)
    assert asked == parse.Keyword(confidential=True, text=rest, subject=None)


@pytest.mark.parametrize(
    "text",
    [
        "RAHASIAKAN nama saya, jalan desa rusak",  # a longer word
        "Rahasianya, kepala desa memungut uang",
        "Jalan desa rusak. Mohon dirahasiakan.",
        "Jalan desa rusak, rahasia ya",  # the word, not first
        "Tolong RAHASIA nama saya",
        "RAHASIA2 jalan desa rusak",  # a word of its own
        "*RAHASIAKAN* nama saya",
        "",
    ],
)
def test_only_the_first_word_counts(text):
    assert parse.confidential_keyword(text) == parse.Keyword(confidential=False, text=text, subject=None)


def test_an_emails_subject_or_body_asks_and_loses_the_word_where_it_is():
    by_subject = parse.confidential_keyword("Mohon bantuan, KTP saya terlampir.", "RAHASIA Pengurusan KTP tertunda")
    assert by_subject == parse.Keyword(True, "Mohon bantuan, KTP saya terlampir.", "Pengurusan KTP tertunda")
    by_body = parse.confidential_keyword("#Rahasia: Mohon bantuan.", "Pengurusan KTP tertunda")
    assert by_body == parse.Keyword(True, "Mohon bantuan.", "Pengurusan KTP tertunda")
    both = parse.confidential_keyword("RAHASIA Mohon bantuan.", "RAHASIA: Pengurusan KTP tertunda")
    assert both == parse.Keyword(True, "Mohon bantuan.", "Pengurusan KTP tertunda")
    # a Subject that was only the word: none, so the body's first line becomes the complaint's subject
    only_word = parse.confidential_keyword("Jalan desa rusak\nSudah lama.", "RAHASIA")
    assert only_word == parse.Keyword(True, "Jalan desa rusak\nSudah lama.", None)
    assert parse.wording("email", only_word.text, only_word.subject).subject == "Jalan desa rusak"
    # after a reply's or a forward's prefix, and in brackets as subjects tag things
    assert parse.confidential_keyword("Mohon dirahasiakan.", "Re: RAHASIA") == parse.Keyword(
        True, "Mohon dirahasiakan.", None
    )
    tagged = parse.confidential_keyword("Mohon bantuan.", "Fwd: [RAHASIA] Pengurusan KTP tertunda")
    assert tagged == parse.Keyword(True, "Mohon bantuan.", "Pengurusan KTP tertunda")
    neither = parse.confidential_keyword("Mohon dirahasiakan.", "Re: Pengurusan KTP (rahasia)")
    assert neither == parse.Keyword(False, "Mohon dirahasiakan.", "Re: Pengurusan KTP (rahasia)")


def test_the_complaints_subject_and_description_no_longer_begin_with_the_word():
    asked = parse.confidential_keyword(parse.clean_text("RAHASIA\r\nPungutan liar di kantor desa\r\nSetiap pagi."))
    wording = parse.wording("sms", asked.text)
    assert (wording.subject, wording.description) == (
        "Pungutan liar di kantor desa",
        "Pungutan liar di kantor desa\nSetiap pagi.",
    )


# -- the acknowledgment --------------------------------------------------------------------------------------
TODAY = {  # the acknowledgment as it read before it said anything about confidentiality
    "email": (
        "Yth. Bapak/Ibu Siti Aminah,\n\nPengaduan Bapak/Ibu sudah kami terima pada 28 November 2026 09.15 WIB dengan "
        "kode pelacakan ABCD-EFGH-JK.\nIkuti prosesnya di https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK\n"
        "Tanda terima: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK/tanda-terima.pdf\n\n"
        "Surat tanggapan kami kirimkan paling lambat 12 hari kerja sejak pengaduan diterima.\n\n"
        "Atas perhatian Saudara, kami sampaikan terima kasih.\n\nKecamatan Pegantenan\n"
        "Layanan pengaduan ini tidak dipungut biaya."
    ),
    "sms": (
        "Pengaduan Bapak/Ibu diterima, kode ABCD-EFGH-JK. Lacak: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK "
        "-Kec. Pegantenan"
    ),
    "whatsapp": (
        "Yth. Bapak/Ibu Siti Aminah, pengaduan Bapak/Ibu sudah kami terima.\nKode pelacakan: *ABCD-EFGH-JK*\n"
        "Lacak: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK\n"
        "Tanda terima: https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK/tanda-terima.pdf\n"
        "Surat tanggapan kami kirimkan paling lambat 12 hari kerja. Layanan ini tidak dipungut biaya.\n"
        "- Kecamatan Pegantenan"
    ),
}
SAYS_SO = {
    "email": "identitas Bapak/Ibu kami rahasiakan: nama dan kontak Bapak/Ibu hanya dilihat oleh Kasi/Kasubag",
    "sms": "Pengaduan Bapak/Ibu diterima, identitas dirahasiakan, kode ABCD-EFGH-JK.",
    "whatsapp": "Sesuai permintaan Bapak/Ibu, identitas Bapak/Ibu kami rahasiakan.\n",
}


@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp"])
def test_the_acknowledgment_says_the_identity_is_kept_confidential_only_when_it_is(channel):
    template = DEFAULTS[("acknowledgment", channel)]
    _, asked = render(template, {**sample_variables("acknowledgment"), "rahasia": "ya"})
    _, plain = render(template, {**sample_variables("acknowledgment"), "rahasia": ""})
    assert SAYS_SO[channel] in asked and plain == TODAY[channel]
    if channel == "sms":  # still one segment
        assert sms_segments(to_gsm(asked)) == 1
    assert validate("acknowledgment", channel, template) == []


def test_a_planned_acknowledgment_says_so_only_when_asked():
    """Planning passes ``rahasia`` ("ya" or ""): without the request, today's text."""
    for channel in ("email", "sms", "whatsapp"):
        for rahasia in ("", "ya"):
            planned = p.plan_message(
                uuid.uuid4(),
                "acknowledgment",
                "complainant",
                p.Contact(channel, "+6281234567890"),
                DEFAULTS[("acknowledgment", channel)],
                {**sample_variables("acknowledgment"), "rahasia": rahasia},
            )
            if rahasia:
                assert SAYS_SO[channel] in planned.body
            else:
                assert planned.body == (to_gsm(TODAY[channel]) if channel == "sms" else TODAY[channel])


def test_approved_whatsapp_acknowledgment_templates_keep_their_six_parameters():
    assert "rahasia" in VARIABLES["acknowledgment"]
    assert whatsapp_parameters("acknowledgment") == (
        "nama",
        "kode",
        "kecamatan",
        "link_lacak",
        "link_tanda_terima",
        "tanggal",
    )
