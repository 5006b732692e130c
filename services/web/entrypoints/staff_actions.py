"""The staff actions as the pages show them: the one mapping ``action -> label`` (the button text, in the
SOP's own words), each action's form fields, and the body a submitted form becomes for
``POST /v1/complaints/{id}/{action}`` (services/workflow/domain/commands.py names the fields).

Which actions a page offers comes from the API (``allowed_actions``: the complaint's state and the SOP
role of its current step, checked by the same rule that guards the action), never from a list here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

# -- the button texts: one place, the SOP's wording ---------------------------------------------------------
ACTION_LABELS: dict[str, str] = {
    "verify-identity": "Verifikasi identitas",
    "request-documents": "Minta kelengkapan dokumen",
    "receive-documents": "Catat dokumen diterima",
    "reject-identity": "Tolak karena identitas tidak jelas",
    "close-incomplete": "Tutup karena dokumen tidak lengkap",
    "register": "Registrasi",
    "dispose": "Disposisi",
    "redispose": "Alihkan disposisi",
    "refer": "Limpahkan",
    "record-referral-answer": "Catat tanggapan",
    "clarify": "Klarifikasi",
    "request-letter": "Minta staf menyiapkan surat",
    "draft-letter": "Buat konsep surat",
    "review-letter": "Paraf",
    "review-letter:return": "Kembalikan dengan catatan",
    "duplicate-letter": "Gandakan surat",
    "sign-letter": "Tanda tangani",
    "archive-letter": "Arsipkan",
    "send-response": "Kirim surat tanggapan",
    "withdraw": "Cabut pengaduan",
    "mark-duplicate": "Tandai sebagai duplikat",
    "categorize": "Tetapkan kategori",
    "answer-objection": "Jawab keberatan",
}

# the flash message after each action succeeded
DONE: dict[str, str] = {
    "verify-identity": "Identitas pengadu sudah diverifikasi. Pengaduan menunggu registrasi.",
    "request-documents": "Permintaan kelengkapan dokumen sudah dicatat dan disampaikan kepada pengadu.",
    "receive-documents": "Kelengkapan dokumen sudah dicatat. Lanjutkan verifikasi identitas.",
    "reject-identity": "Pengaduan ditutup: identitas pengadu tidak jelas.",
    "close-incomplete": "Pengaduan ditutup: dokumen yang diminta tidak lengkap.",
    "register": "Pengaduan sudah dicatat di Buku Rekap Pengaduan.",
    "dispose": "Disposisi sudah diberikan.",
    "redispose": "Disposisi sudah dialihkan ke unit yang baru.",
    "refer": "Pengaduan sudah dilimpahkan. Surat pelimpahan disiapkan dan pengaduan dipantau sampai instansi "
    "penerima menanggapi.",
    "record-referral-answer": "Tanggapan instansi sudah dicatat. Pengaduan selesai dan pengadu diberi tahu.",
    "clarify": "Klarifikasi sudah dicatat.",
    "request-letter": "Staf sudah diminta menyiapkan surat tanggapan.",
    "draft-letter": "Konsep surat tanggapan sudah disimpan dan diteruskan untuk diperiksa.",
    "review-letter": "Surat tanggapan sudah diparaf.",
    "review-letter:return": "Konsep surat dikembalikan kepada staf dengan catatan.",
    "duplicate-letter": "Surat tanggapan sudah digandakan.",
    "sign-letter": "Surat tanggapan sudah ditandatangani. Surat bertanda tangan elektronik sedang disiapkan.",
    "archive-letter": "Surat tanggapan sudah diarsipkan dan dicatat di Buku Rekap Pengaduan.",
    "send-response": "Pengiriman surat tanggapan sudah dicatat.",
    "withdraw": "Pengaduan sudah dicabut.",
    "mark-duplicate": "Pengaduan sudah ditandai sebagai duplikat.",
    "categorize": "Kategori pengaduan sudah ditetapkan.",
    "answer-objection": "Jawaban atas keberatan sudah dicatat dan disampaikan kepada pengadu.",  # upheld
}

# any step: offered apart from the step's own action
ANY_STEP = ("withdraw", "mark-duplicate")
# an API refusal that is about one field, by its code: shown at that field
CODE_FIELDS = {
    "answered_in_future": "answered_on",
    "answered_before_referral": "answered_on",
    "wrong_passphrase": "passphrase",
    "passphrase_required": "passphrase",
}

AGENCY_KINDS = (
    ("opd", "OPD kabupaten"),
    ("desa", "Pemerintah desa"),
    ("sp4n-lapor", "SP4N-LAPOR"),
    ("lainnya", "Lainnya"),
)
SEND_CHANNELS = (
    ("otomatis", "Otomatis melalui kontak pengadu (e-mail/SMS/WhatsApp)"),
    ("pos", "Pos"),
    ("langsung", "Diserahkan langsung"),
    ("kurir", "Kurir"),
    ("lacak", "Halaman pelacakan (pengaduan anonim)"),
)
COPIES = (
    ("pengadu", "Untuk pengadu"),
    ("arsip", "Untuk arsip"),
    ("camat", "Untuk Camat"),
    ("unit", "Untuk unit terkait"),
)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = (
        # text | textarea | lines (a textarea, one item per line: a list) | number | date | select | checkboxes |
        # secret (a password input, never filled in again, sent as typed)
        "text"
    )
    required: bool = False
    help: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    default: Any = None
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    name: str
    title: str  # the form's heading
    fields: tuple[Field, ...] = ()
    intro: str | None = None
    danger: bool = False

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.name]


NOTES = Field("notes", "Catatan", "textarea")  # the label says "(tidak wajib)"; no second hint
# the kecamatan's units with a head, filled in per page from the API (staff_complaint.load_units)
UNIT_FIELD = Field(
    "unit",
    "Unit (Kasi/Kasubag)",
    "select",
    required=True,
    help="Unit yang menindaklanjuti; unit tanpa kepala (Kasi/Kasubag) aktif tidak dapat dipilih.",
)


# the kabupaten's complaint categories, filled in per page (staff_complaint.step_forms) from its kecamatan's entry
CATEGORY_FIELD = Field("category", "Kategori", "select", required=True, help="Dari daftar kategori kabupaten.")

# the kabupaten's archive classification codes, filled in per page (staff_complaint.step_forms) with the kind of
# letter's default chosen; left out, the API takes that default
KLASIFIKASI_FIELD = Field(
    "klasifikasi", "Kode klasifikasi arsip", "select", help="Bagian pertama nomor surat, dari daftar kabupaten."
)
# where the kecamatan signs through BSrE (GET /v1/kecamatan's signature_service), added to sign-letter's form
# (staff_complaint.step_forms): the signer's passphrase, sent once to BSrE through the API, never kept
PASSPHRASE_FIELD = Field(
    "passphrase",
    "Passphrase tanda tangan elektronik (BSrE)",
    "secret",
    required=True,
    help="Passphrase sertifikat elektronik Anda dari BSrE. Tidak disimpan; salah ketik berarti surat belum "
    "ditandatangani.",
)
BSRE_SIGN_INTRO = (
    "Nomor surat diberikan saat penandatanganan; surat ditandatangani secara elektronik melalui BSrE (BSSN) dengan "
    "sertifikat elektronik Anda."
)
# the kind of letter each numbering action gives (its default code: GET /v1/kecamatan's klasifikasi_default)
LETTER_OF = {"sign-letter": "response_letter", "refer": "referral_letter"}

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "verify-identity",
            "Verifikasi identitas pengadu",
            (NOTES,),
            intro="Identitas jelas dan lampiran KTP/SIM/KK sesuai: pengaduan diteruskan untuk registrasi.",
        ),
        Action(
            "request-documents",
            "Minta kelengkapan dokumen",
            (
                Field(
                    "message",
                    "Pesan kepada pengadu",
                    "textarea",
                    required=True,
                    help="Sebutkan dokumen yang kurang, misalnya salinan KTP yang terbaca jelas.",
                ),
                Field(
                    "close_after_working_days",
                    "Batas waktu (hari kerja)",
                    "number",
                    default=10,
                    help="Bila tidak ada jawaban sampai batas ini, pengaduan ditutup sebagai tidak lengkap.",
                ),
            ),
        ),
        Action("receive-documents", "Catat kelengkapan dokumen diterima", (NOTES,)),
        Action(
            "reject-identity", "Tolak pengaduan", (Field("reason", "Alasan", "textarea", required=True),), danger=True
        ),
        Action(
            "close-incomplete",
            "Tutup pengaduan",
            (Field("reason", "Alasan", "textarea", default="Dokumen yang diminta tidak diterima dalam batas waktu."),),
            danger=True,
        ),
        Action(
            "register",
            "Registrasi di Buku Rekap Pengaduan",
            intro="Nomor register diberikan otomatis menurut urutan buku rekap tahun ini.",
        ),
        Action(
            "dispose",
            "Disposisi tindak lanjut",
            (UNIT_FIELD, Field("instructions", "Instruksi", "textarea", required=True)),
            intro="Pengaduan termasuk tupoksi kecamatan: tunjuk unit yang menindaklanjuti.",
        ),
        Action(
            "redispose",
            "Alihkan disposisi ke unit lain",
            (
                UNIT_FIELD,
                Field("instructions", "Instruksi", "textarea", required=True),
                Field("reason", "Alasan pengalihan", "textarea", required=True),
            ),
            intro="Klarifikasi belum diberikan: disposisi dapat dialihkan ke unit lain (misalnya unit yang keliru).",
        ),
        Action(
            "refer",
            "Limpahkan ke instansi lain",
            (
                Field(
                    "agency",
                    "Instansi tujuan",
                    required=True,
                    help="Misalnya Dinas PUPR kabupaten, puskesmas, atau pemerintah desa.",
                ),
                Field("agency_kind", "Jenis instansi", "select", required=True, options=AGENCY_KINDS, default="opd"),
                Field("agency_address", "Alamat instansi", help="Dimuat dalam surat pelimpahan."),
                Field("reason", "Alasan", "textarea", required=True),
                Field(
                    "follow_up_working_days",
                    "Pantau selama (hari kerja)",
                    "number",
                    required=True,
                    default=14,
                    help="Bila instansi belum menanggapi sampai batas ini, pemantauan berakhir dan pengadu diberi tahu.",
                ),
                KLASIFIKASI_FIELD,
            ),
            intro="Pengaduan bukan tupoksi kecamatan: surat pelimpahan dikirim ke instansi tersebut, pengadu diberi "
            "tahu, dan kecamatan memantau sampai instansi menanggapi.",
        ),
        Action(
            "record-referral-answer",
            "Catat tanggapan instansi",
            (
                Field("answer", "Isi tanggapan", "textarea", required=True),
                Field("answered_on", "Tanggal tanggapan", "date"),
                Field(
                    "reference",
                    "Nomor surat atau cara diterima",
                    help="Misalnya surat 600/123/432.3/2026, atau telepon.",
                ),
            ),
            intro="Tanggapan instansi penerima pelimpahan: pengaduan selesai dan pengadu diberi tahu isinya.",
        ),
        Action(
            "clarify",
            "Klarifikasi atau tanggapan",
            (
                Field(
                    "explanation",
                    "Penjelasan",
                    "textarea",
                    required=True,
                    help="Penjelasan ini dimuat dalam surat tanggapan.",
                ),
            ),
        ),
        Action("request-letter", "Minta staf menyiapkan surat tanggapan", (NOTES,)),
        Action(
            "draft-letter",
            "Konsep surat tanggapan",
            (
                Field("perihal", "Perihal", required=True),
                Field("body", "Isi surat", "textarea", required=True),
            ),
        ),
        Action(
            "review-letter",
            "Periksa surat tanggapan",
            (Field("notes", "Catatan", "textarea", help="Wajib bila konsep dikembalikan."),),
            intro="Periksa konsep terbaru di bagian Dokumen, lalu beri paraf atau kembalikan dengan catatan.",
        ),
        Action(
            "duplicate-letter",
            "Gandakan surat tanggapan",
            (
                Field("copies", "Salinan", "checkboxes", options=COPIES, default=("pengadu", "arsip")),
                Field(
                    "tembusan",
                    "Tembusan",
                    "lines",
                    help="Satu instansi per baris, misalnya: Bupati (sebagai laporan). Dicetak di bawah "
                    "surat tanggapan.",
                ),
            ),
        ),
        Action(
            "sign-letter",
            "Tanda tangani surat tanggapan",
            (KLASIFIKASI_FIELD,),
            intro="Nomor surat diberikan saat penandatanganan; surat ditandatangani secara elektronik.",
        ),
        Action(
            "archive-letter",
            "Arsipkan surat tanggapan",
            intro="Surat bertanda tangan diarsipkan dan dicatat pada Buku Rekap Pengaduan.",
        ),
        Action(
            "send-response",
            "Kirim surat tanggapan kepada pengadu",
            (
                Field("channel", "Cara pengiriman", "select", required=True, options=SEND_CHANNELS, default="otomatis"),
                Field(
                    "receipt",
                    "Tanda terima pengiriman",
                    help="Untuk pos, kurir, atau diserahkan langsung: nomor resi atau nama penerima.",
                ),
            ),
        ),
        Action(
            "withdraw",
            "Cabut pengaduan",
            (Field("reason", "Alasan", "textarea", default="Dicabut oleh pengadu."),),
            danger=True,
        ),
        Action(
            "categorize",
            "Kategori pengaduan",
            (CATEGORY_FIELD,),
            intro="Kategori dipakai di dasbor, Buku Rekap Pengaduan, dan laporan ke SP4N-LAPOR!; dapat dikoreksi "
            "selama langkah 3 (registrasi) dan 4 (disposisi).",
        ),
        Action(  # a keberatan after the response (issue #18 item 1; docs/adr/0020)
            "answer-objection",
            "Jawab keberatan pengadu",
            (
                Field(
                    "decision",
                    "Keputusan",
                    "select",
                    required=True,
                    options=(
                        ("upheld", "Tanggapan sudah sesuai: tetapkan, sampaikan jawaban ini kepada pengadu"),
                        ("reopened", "Buka kembali: unit menangani ulang mulai klarifikasi (langkah 5)"),
                    ),
                ),
                Field(
                    "answer",
                    "Jawaban Camat",
                    "textarea",
                    required=True,
                    help="Disampaikan kepada pengadu; bila dibuka kembali, menjadi instruksi bagi unit.",
                ),
                Field("unit", "Unit yang menangani ulang", "select", help="Bila dibuka kembali."),
            ),
            intro="Pengadu menyatakan pengaduannya belum selesai setelah menerima tanggapan.",
        ),
        Action(
            "mark-duplicate",
            "Tandai sebagai duplikat",
            (
                Field("duplicate_of", "Kode pelacakan pengaduan asli", required=True),
                Field("reason", "Alasan", "textarea"),
            ),
            danger=True,
        ),
    )
}

REQUIRED = "Wajib diisi."


def values_of(action: Action, form) -> dict[str, Any]:
    """What the person typed, to show again in the form (strings, and lists for checkboxes)."""
    values: dict[str, Any] = {}
    for f in action.fields:
        if f.kind == "checkboxes":
            values[f.name] = [str(v) for v in form.getlist(f.name)]
        else:
            raw = form.get(f.name)
            values[f.name] = raw if isinstance(raw, str) else ""
    return values


def body_of(
    action: Action, values: dict[str, Any], variant: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The API body (without ``expected_version``) and the errors found before asking the API."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in action.fields:
        value = values.get(f.name)
        if f.kind == "checkboxes":
            body[f.name] = list(value or [])
            continue
        if f.kind == "secret":  # as typed: spaces may be part of it
            if value:
                body[f.name] = value
            elif f.required:
                errors[f.name] = REQUIRED
            continue
        text = (value or "").strip()
        if not text:
            if f.required:
                errors[f.name] = REQUIRED
            continue
        if f.kind == "lines":  # the API folds spaces and checks each line's length and the count
            body[f.name] = [line.strip() for line in text.splitlines() if line.strip()]
            continue
        if f.kind == "number":
            try:
                body[f.name] = int(text)
            except ValueError:
                errors[f.name] = "Isi dengan bilangan bulat."
            continue
        if f.kind == "date":
            try:
                body[f.name] = date.fromisoformat(text).isoformat()
            except ValueError:
                errors[f.name] = "Isi tanggal yang benar (hari, bulan, tahun)."
            continue
        # a list given per page (the units) is checked by the API: it answers unknown_unit with the valid ones
        if f.kind == "select" and f.options and text not in {k for k, _ in f.options}:
            errors[f.name] = "Pilih salah satu pilihan."
            continue
        body[f.name] = text
    if action.name == "review-letter":
        body["approved"] = variant != "kembalikan"
        if not body["approved"] and not body.get("notes"):
            errors["notes"] = "Tulis catatan perbaikan untuk staf."
    if action.name == "send-response" and body.get("channel") not in (None, "otomatis") and not body.get("receipt"):
        errors["receipt"] = "Tulis tanda terima pengiriman (nomor resi atau nama penerima)."
    return body, errors


def done_message(action: str, body: dict[str, Any]) -> str:
    if action == "review-letter" and body.get("approved") is False:
        return DONE["review-letter:return"]
    if action == "answer-objection" and body.get("decision") == "reopened":
        return "Pengaduan dibuka kembali; unit menangani ulang mulai klarifikasi (langkah 5). Pengadu diberi tahu."
    return DONE[action]
