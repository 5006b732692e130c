"""What a letter is: the data a response letter (surat tanggapan), a referral letter (surat pelimpahan), a
disposition sheet (lembar disposisi) or a complaint receipt (tanda terima) is printed from, and what printing
gives back (the PDF, its pages, where the signature goes). Pure data, the words of the letters this service
writes itself (the surat pelimpahan's body), and the dates and times as Indonesian letters write them; the
rendering is ``services/letters/adapters/pdf/``. The Kartu Kendali is ``control_card.py`` beside this one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

from shared.tanggal import format_tanggal

__all__ = [
    "ARCHIVE",
    "SALUTATION",
    "WIB",
    "DispositionSheet",
    "Letterhead",
    "Receipt",
    "ReferralLetter",
    "RenderedLetter",
    "ResponseLetter",
    "SignatureBox",
    "Signer",
    "Zone",
    "addressed",
    "format_waktu_wib",
]

# Western Indonesia Time: UTC+7 with no daylight saving since 1964. A fixed offset, so the receipt does
# not depend on the machine's tz database (python:3.11-slim has none).
WIB = timezone(timedelta(hours=7), "WIB")


@dataclass(frozen=True)
class Letterhead:
    """The kop surat (Permendagri 1/2023, tata naskah dinas of the regions): the kabupaten's lambang on the left,
    centred beside it the government and the office, then its address, telephone, laman (website), pos-el
    (e-mail) and kode pos; ``city`` is the place in the date line."""

    pemerintah: str  # "PEMERINTAH KABUPATEN PAMEKASAN"
    kecamatan: str  # "KECAMATAN PEGANTENAN"
    address: str  # "Jalan Raya Pegantenan"
    phone: str | None  # "(0324) 7710982"
    city: str  # the place in the date line: "Pegantenan"
    logo_png: bytes | None = None  # the kabupaten's lambang (a PNG); None: no image
    website: str | None = None  # laman: "pegantenan.pamekasankab.go.id"
    email: str | None = None  # pos-el: "kec.pegantenan@pamekasankab.go.id"
    postal_code: str | None = None  # kode pos: "69361"

    def address_line(self) -> str:
        """``Jalan Raya Pegantenan, Telepon (0324) 7710982, Kode Pos 69361`` (what is known of it; the kode pos
        left out when the address already ends with it)."""
        address = " ".join(self.address.split())
        parts = [address] if address else []
        if self.phone:
            parts.append(f"Telepon {self.phone}")
        if self.postal_code and not address.endswith(self.postal_code):
            parts.append(f"Kode Pos {self.postal_code}")
        return ", ".join(parts)

    def contact_line(self) -> str:
        """``Laman pegantenan.pamekasankab.go.id, Pos-el kec.pegantenan@pamekasankab.go.id`` (what is known)."""
        parts = []
        if self.website:
            parts.append(f"Laman {self.website}")
        if self.email:
            parts.append(f"Pos-el {self.email}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Zone:
    """The office's time zone as its papers print it: the kabupaten's (``Kecamatan.time_zone``), WIB, WITA or WIT."""

    tz: tzinfo
    label: str  # "WIB"

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("a time to print must be timezone-aware")
        return moment.astimezone(self.tz)

    def tanggal(self, moment: datetime) -> str:
        """``28 November 2026``: the office's date of ``moment``."""
        return format_tanggal(self.local(moment).date())

    def jam(self, moment: datetime) -> str:
        """``08.15 WIB``."""
        local = self.local(moment)
        return f"{local.hour:02d}.{local.minute:02d} {self.label}"

    def waktu(self, moment: datetime) -> str:
        """``28 November 2026 pukul 08.15 WIB``."""
        return f"{self.tanggal(moment)} pukul {self.jam(moment)}"


# how a letter names a person it writes to, whose gender it does not know: "Sdr." (Saudara/Saudari), the form
# surat dinas use for a member of the public; a name already written with a form of address keeps it
SALUTATION = "Sdr."
_FORMS_OF_ADDRESS = frozenset({"sdr.", "sdr", "sdri.", "sdri", "saudara", "saudari", "bapak", "bpk.", "ibu"})


def addressed(name: str) -> str:
    """``Sdr. Siti Aminah``: the name after the salutation, once (``Bapak Ahmad`` and ``Sdr. Ahmad`` as they are)."""
    words = name.split()
    if words and words[0].casefold() in _FORMS_OF_ADDRESS:
        return " ".join(words)
    return " ".join([SALUTATION, *words])


@dataclass(frozen=True)
class Signer:
    title: str  # "CAMAT PEGANTENAN", "Plh. CAMAT PEGANTENAN", "a.n. CAMAT PEGANTENAN"
    name: str
    rank: str | None  # "Pembina Tk. I"
    nip: str | None
    # signed a.n. (atas nama) the Camat: the signer's own office, on the line under the title ("SEKRETARIS
    # KECAMATAN"); None otherwise
    office: str | None = None


# The foot of a signed letter's pages says how it was signed. Through BSrE: the standard note of electronically
# signed government documents (the certificate is BSrE's, so no wet signature or stamp is needed; UU 11/2008 jo.
# 19/2016 (ITE) Pasal 5 and 11, PP 71/2019). With the development CA: plainly a test signature. With a kecamatan's
# own certificate from another CA: where to check it.
SIGNED_WITH_BSRE = (
    "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik yang diterbitkan oleh "
    "Balai Besar Sertifikasi Elektronik (BSrE), Badan Siber dan Sandi Negara, sehingga tidak memerlukan tanda "
    "tangan basah dan cap dinas. Keasliannya dapat diperiksa melalui kode QR pada surat ini."
)
SIGNED_WITH_DEVELOPMENT_CA = (
    "TANDA TANGAN UJI COBA: surat ini ditandatangani dengan sertifikat pengembangan, bukan sertifikat elektronik "
    "BSrE, dan tidak sah sebagai naskah dinas."
)
SIGNED_WITH_OWN_CERTIFICATE = (
    "Dokumen ini ditandatangani secara elektronik. Keasliannya dapat diperiksa melalui kode QR pada surat ini."
)


@dataclass(frozen=True)
class ResponseLetter:
    """The surat tanggapan to the complainant. Its body is the draft the Sekcam approved (step 7-8), as signed: the
    clarification of step 5 is what the draft was written from, not pasted after it."""

    letterhead: Letterhead
    number: str | None  # None: a draft, printed with a DRAF watermark and "Nomor : ..."
    date: date  # the day it was signed, in the kabupaten's time zone
    perihal: str  # printed after "Hal"
    addressee_name: str  # the complainant's name as given; printed "Yth. Sdr. <name>" (``addressed``)
    addressee_address: str | None  # None: "Tempat"
    body: str  # paragraphs separated by blank lines; plain text, never markup
    signer: Signer
    verify_url: str | None = None  # a QR code of it beside the signature block
    sifat: str = "Biasa"
    lampiran: str = "-"
    signature_placeholder: bool = True  # leave room for the digital signature's appearance (pyHanko)
    tembusan: tuple[str, ...] = ()  # the offices that get a copy, as chosen at step 9 (duplicate-letter)
    footer: str | None = None  # the note at the foot of each page: how it is signed (SIGNED_WITH_*)


@dataclass(frozen=True)
class Receipt:
    """The tanda terima: what the office received (step 1; registering it is step 3), when, and by when the
    surat tanggapan is promised."""

    letterhead: Letterhead
    tracking_code: str
    received_at: datetime  # aware; printed in the office's zone
    channel: str  # a key of shared.contracts.intake.CHANNEL_LABELS
    complainant_name: str
    subject: str
    track_url: str
    zone: Zone = Zone(WIB, "WIB")  # the kabupaten's (Kecamatan.time_zone)
    respond_by: datetime | None = None  # the SOP's promise (ComplaintReceived.deadline_at); None: not printed
    # the kinds of the files received with it (shared.contracts.intake.Attachment.kind: ktp, sim, kk, foto,
    # lainnya), one per file; empty: none
    documents: tuple[str, ...] = ()
    received_by: str | None = None  # the officer who typed in a complaint-box form or a call (full name)


ARCHIVE = "Arsip"  # the office's own copy, last in a tembusan, the only one without "Yth."
REFERRAL_PERIHAL = "Pelimpahan Pengaduan Masyarakat"
REFERRAL_CLOSING = "Demikian disampaikan, atas perhatian dan kerja samanya diucapkan terima kasih."
DESCRIPTION_SUMMARY_MAX = 320  # characters of the complaint's description quoted in the surat pelimpahan


@dataclass(frozen=True)
class ReferralLetter:
    """The surat pelimpahan: the Camat refers (melimpahkan) a complaint outside the kecamatan's duties to the
    office whose authority it is, with the complaint as its attachment; the complainant gets a copy (tembusan)."""

    letterhead: Letterhead
    kecamatan: str  # as the body names the office: "Pegantenan"
    number: str  # "001/PELIMPAHAN/35.28.07/2026"
    signed_on: date  # the letter's date: the day the Camat referred and signed it
    agency: str  # the addressee: "Kepala Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"
    agency_address: str | None  # None: "di Tempat"
    tracking_code: str
    received_on: date
    channel: str  # as people read it: "Formulir web"
    complainant_name: str
    subject: str
    description: str
    reason: str  # why it is not within the kecamatan's duties
    signer: Signer
    follow_up_by: date | None = None  # the kecamatan follows the referral until then
    verify_url: str | None = None
    footer: str | None = None  # how it is signed (SIGNED_WITH_*), at the foot of each page
    sifat: str = "Biasa"
    lampiran: str = "1 (satu) berkas"
    perihal: str = REFERRAL_PERIHAL

    def opening(self) -> str:
        return (
            f"Dengan hormat, menindaklanjuti pengaduan masyarakat yang kami terima pada tanggal "
            f"{format_tanggal(self.received_on)} melalui {self.channel} (kode pengaduan {self.tracking_code}) "
            f"dari {addressed(self.complainant_name)} perihal {self.subject}, dengan uraian singkat sebagai berikut:"
        )

    def summary(self) -> str:
        """The complaint's description, quoted: whitespace folded, at most ``DESCRIPTION_SUMMARY_MAX`` characters
        (cut at a word, with an ellipsis; the whole complaint is the attachment)."""
        text = " ".join(self.description.split())
        if len(text) <= DESCRIPTION_SUMMARY_MAX:
            return text
        cut = text[: DESCRIPTION_SUMMARY_MAX - 1]
        return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,.;:") + "\u2026"

    def paragraphs(self) -> list[str]:
        """The body after the quoted description, in the words of a surat dinas: the grounds, then the referral
        and what the kecamatan asks of the office."""
        grounds = (
            "Setelah kami lakukan verifikasi substansi, pengaduan tersebut tidak termasuk dalam tugas pokok dan "
            f"fungsi (tupoksi) Kecamatan {self.kecamatan}, dengan pertimbangan: {_sentence(self.reason)}"
        )
        by = f" paling lambat tanggal {format_tanggal(self.follow_up_by)}" if self.follow_up_by else ""
        referral = (
            "Sehubungan dengan hal tersebut, bersama ini pengaduan dimaksud kami limpahkan kepada "
            f"{self.agency} untuk ditindaklanjuti sesuai dengan kewenangan, dengan berkas pengaduan terlampir. "
            "Kami mohon kiranya hasil tindak lanjutnya dapat disampaikan kepada pengadu dan ditembuskan kepada "
            f"Camat {self.kecamatan}{by} dengan menyebut kode pengaduan {self.tracking_code}."
        )
        return [grounds, referral]

    def copies(self) -> list[str]:
        """Tembusan: the complainant, and the kecamatan's own file."""
        return [f"{addressed(self.complainant_name)} selaku pengadu", ARCHIVE]


def _sentence(text: str) -> str:
    """One line of someone's words ending a sentence: whitespace folded, a full stop unless it has its own."""
    folded = " ".join(text.split())
    return folded if folded.endswith((".", "!", "?")) else f"{folded}."


@dataclass(frozen=True)
class DispositionSheet:
    """The Lembar Disposisi of step 4: the Camat sends the complaint to a unit, with instructions (or redirects it
    to another: ``redirected_from``). An internal paper, not digitally signed."""

    letterhead: Letterhead
    zone: Zone
    city: str  # the place in the signature's date line
    complainant_name: str
    channel: str  # as people read it: "Formulir web"
    tracking_code: str
    register_number: str | None  # the Nomor Agenda of step 3: "12/2026"
    received_at: datetime
    subject: str
    to_title: str  # "Kepala Seksi Pemerintahan"
    to_name: str | None  # the unit's head, when it has one
    instructions: str
    disposed_at: datetime
    signer: Signer
    sifat: str = "Biasa"
    redirected_from: str | None = None  # a redirect: the unit it was disposed to before ("Seksi Trantib")
    redirect_reason: str | None = None


@dataclass(frozen=True)
class SignatureBox:
    """Where the signature appearance goes, in PDF points (origin bottom left), for pyHanko's
    ``SigFieldSpec(on_page=page_index, box=(x1, y1, x2, y2))``."""

    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (round(self.x1), round(self.y1), round(self.x2), round(self.y2))


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    page_count: int
    signature_box: SignatureBox | None  # None when signature_placeholder is False


def format_waktu_wib(moment: datetime) -> str:
    """``28 November 2026 pukul 08.15 WIB`` (an aware datetime, shown in WIB)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    local = moment.astimezone(WIB)
    return f"{format_tanggal(local.date())} pukul {local.hour:02d}.{local.minute:02d} WIB"
