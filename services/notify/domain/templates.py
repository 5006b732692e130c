"""What notify says, in Bahasa Indonesia: one template per kind of message and channel.

The defaults are below; a kabupaten (kecamatan ``*``) or one kecamatan can replace any of them
(``notify.templates``, ``pengaduan templates set``). Templates are Jinja2 in a sandbox (an edited
template cannot reach Python objects), rendered with the variables listed in ``VARIABLES``; a template
that does not render with them is refused when it is stored, not when a citizen should get it.

Optional values (a referral's follow-up date, the date of an office's answer, its address) are passed as
"" when absent, so that a template can leave them out with ``{% if ... %}``.

SMS: one 160-character segment where it can. Texts are reduced to the GSM 03.38 alphabet (a single
curly quote or dash would otherwise make the whole SMS UCS-2, 70 characters a segment), and the
defaults are written to fit one segment with a tracking code and a link of a usual length.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

CHANNELS = ("email", "sms", "whatsapp")

# Who an edited template is for (``notify.templates.kecamatan``): one kecamatan (its slug), every kecamatan of one
# kabupaten (``kabupaten:<slug>``), or every kecamatan this deployment serves (``*``). The kabupaten's scope lets
# two kabupaten served by one deployment word their messages each its own way (issue #19 item 4); the narrower
# scope wins.
EVERY_KECAMATAN = "*"
KABUPATEN_PREFIX = "kabupaten:"


def kabupaten_scope(kabupaten: str) -> str:
    return f"{KABUPATEN_PREFIX}{kabupaten}"


def scopes_for(kecamatan: str, kabupaten: str | None) -> tuple[str, ...]:
    """The scopes whose templates apply to a kecamatan, the widest first (a later one overrides an earlier)."""
    return (EVERY_KECAMATAN, *((kabupaten_scope(kabupaten),) if kabupaten else ()), kecamatan)


# the variables each kind of message is rendered with (all strings)
VARIABLES: dict[str, tuple[str, ...]] = {
    # rahasia: "ya" when the complainant asked that their identity be kept confidential (pelapor rahasia), else ""
    "acknowledgment": ("nama", "kode", "kecamatan", "link_lacak", "link_tanda_terima", "tanggal", "rahasia"),
    "documents_requested": ("nama", "kode", "kecamatan", "pesan", "batas", "link_lacak"),
    # pantau_sampai: until when the kecamatan follows the referral ("" on referrals made before it did)
    "referred": ("nama", "kode", "kecamatan", "instansi", "alasan", "link_lacak", "pantau_sampai"),
    # the receiving office's answer; its date and reference ("surat 600/123/2026", "telepon") may be ""
    "referral_answered": (
        "nama",
        "kode",
        "kecamatan",
        "instansi",
        "tanggapan",
        "tanggal_tanggapan",
        "rujukan",
        "link_lacak",
    ),
    # no answer by pantau_sampai; the office's address and the surat pelimpahan's number may be ""
    "referral_lapsed": (
        "nama",
        "kode",
        "kecamatan",
        "instansi",
        "alamat_instansi",
        "surat_pelimpahan",
        "pantau_sampai",
        "link_lacak",
    ),
    "response_letter": ("nama", "kode", "kecamatan", "nomor_surat", "link_surat", "link_lacak"),
    "identity_rejected": ("nama", "kode", "kecamatan", "alasan", "link_lacak"),
    "closed_incomplete": ("nama", "kode", "kecamatan", "alasan", "link_lacak"),
    "withdrawn": ("nama", "kode", "kecamatan", "alasan", "link_lacak"),
    # marked a duplicate (docs/adr/0021): closed, handled with the earlier report of the same matter; nothing of that
    # one (its code opens its complainant's receipt) and not the staff's reason (it may name them)
    "duplicate": ("nama", "kode", "kecamatan", "link_lacak"),
    # to the earlier report's complainant: another report of the same matter was joined to theirs (nothing of it)
    "duplicate_joined": ("nama", "kode", "kecamatan", "link_lacak"),
    # after the response (docs/adr/0020): reopened for the unit to handle again by batas (the new promise); a
    # keberatan taken to the Camat, answered by batas; the Camat's answer (a reopening is told as "reopened")
    "reopened": ("nama", "kode", "kecamatan", "batas", "link_lacak"),
    "objection_raised": ("nama", "kode", "kecamatan", "batas", "link_lacak"),
    "objection_answered": ("nama", "kode", "kecamatan", "tanggapan_camat", "link_lacak"),
    # to the Camat: a keberatan to answer by batas
    "objection": ("petugas", "kode", "kecamatan", "batas", "perihal", "link"),
    "new_work": ("petugas", "kode", "kecamatan", "langkah", "nama_langkah", "batas", "perihal", "link"),
    "overdue": ("petugas", "kode", "kecamatan", "langkah", "nama_langkah", "batas", "perihal", "link", "sebagai"),
}

# An approved WhatsApp template (``whatsapp_templates``) takes its kind's variables in order as its body
# parameters, and Meta refuses a message whose parameter count is not the approved one. A variable added to a
# kind later is therefore not sent to templates approved before: those kinds keep their first list here.
_APPROVED_PARAMETERS: dict[str, tuple[str, ...]] = {
    "referred": ("nama", "kode", "kecamatan", "instansi", "alasan", "link_lacak"),  # before pantau_sampai
    "acknowledgment": ("nama", "kode", "kecamatan", "link_lacak", "link_tanda_terima", "tanggal"),  # before rahasia
}


def whatsapp_parameters(kind: str) -> tuple[str, ...]:
    """The variables an approved WhatsApp template of ``kind`` is sent, in order."""
    return _APPROVED_PARAMETERS.get(kind, VARIABLES.get(kind, ()))


@dataclass(frozen=True)
class Template:
    body: str
    subject: str | None = None  # e-mail only


_SIGN_OFF = (
    "\n\nAtas perhatian Saudara, kami sampaikan terima kasih.\n\n"
    "Kecamatan {{ kecamatan }}\nLayanan pengaduan ini tidak dipungut biaya."
)

DEFAULTS: dict[tuple[str, str], Template] = {
    ("acknowledgment", "email"): Template(
        subject="Pengaduan Bapak/Ibu diterima: {{ kode }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nPengaduan Bapak/Ibu sudah kami terima pada {{ tanggal }} dengan kode pelacakan "
            "{{ kode }}.\n"
            "{% if rahasia %}Sesuai permintaan Bapak/Ibu, identitas Bapak/Ibu kami rahasiakan: nama dan kontak "
            "Bapak/Ibu hanya dilihat oleh Kasi/Kasubag yang memeriksa identitas dan Camat.\n{% endif %}"
            "Ikuti prosesnya di {{ link_lacak }}\nTanda terima: {{ link_tanda_terima }}\n\n"
            "Surat tanggapan kami kirimkan paling lambat 12 hari kerja sejak pengaduan diterima." + _SIGN_OFF
        ),
    ),
    ("acknowledgment", "sms"): Template(
        body=(
            "Pengaduan Bapak/Ibu diterima{% if rahasia %}, identitas dirahasiakan{% endif %}, kode {{ kode }}. "
            "Lacak: {{ link_lacak }} -Kec. {{ kecamatan }}"
        )
    ),
    ("acknowledgment", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, pengaduan Bapak/Ibu sudah kami terima.\nKode pelacakan: *{{ kode }}*\n"
            "{% if rahasia %}Sesuai permintaan Bapak/Ibu, identitas Bapak/Ibu kami rahasiakan.\n{% endif %}"
            "Lacak: {{ link_lacak }}\nTanda terima: {{ link_tanda_terima }}\n"
            "Surat tanggapan kami kirimkan paling lambat 12 hari kerja. Layanan ini tidak dipungut biaya.\n"
            "- Kecamatan {{ kecamatan }}"
        ),
    ),
    ("documents_requested", "email"): Template(
        subject="Mohon lengkapi dokumen pengaduan {{ kode }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nUntuk memproses pengaduan {{ kode }}, kami memerlukan:\n{{ pesan }}\n\n"
            "Mohon kirimkan dokumen tersebut dengan membalas e-mail ini paling lambat {{ batas }}. Apabila dokumen "
            "tidak kami terima sampai {{ batas }}, pengaduan akan kami tutup." + _SIGN_OFF
        ),
    ),
    ("documents_requested", "sms"): Template(
        body=(
            "Pengaduan {{ kode }}: mohon kirim {{ pesan|truncate(32, True, '...') }}. Bila tidak diterima s.d. "
            "{{ batas }}, pengaduan ditutup. -Kec. {{ kecamatan }}"
        )
    ),
    ("documents_requested", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, untuk memproses pengaduan *{{ kode }}* kami memerlukan:\n{{ pesan }}\n\n"
            "Mohon balas pesan ini dengan foto dokumen tersebut. Apabila dokumen tidak kami terima sampai "
            "{{ batas }}, pengaduan akan kami tutup.\n- Kecamatan {{ kecamatan }}"
        ),
    ),
    # a referral made before referrals were followed (no pantau_sampai) reads as it always did
    ("referred", "email"): Template(
        subject="Pengaduan {{ kode }} dilimpahkan kepada {{ instansi }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} bukan kewenangan Kecamatan {{ kecamatan }} dan sudah kami "
            "limpahkan kepada {{ instansi }}.\nAlasan: {{ alasan }}"
            "{% if pantau_sampai %}\n\nKami memantau pelimpahan ini sampai {{ pantau_sampai }}. Tanggapan "
            "{{ instansi }} akan kami sampaikan kepada Bapak/Ibu. Apabila sampai tanggal tersebut belum ada "
            "tanggapan, kami juga akan memberitahukannya.{% endif %}\n\nStatus: {{ link_lacak }}" + _SIGN_OFF
        ),
    ),
    ("referred", "sms"): Template(
        body=(
            "{% if pantau_sampai %}Pengaduan {{ kode }} dilimpahkan ke {{ instansi|truncate(30, False, '...', 0) }}, "
            "dipantau s.d. {{ pantau_sampai }}. {{ link_lacak }}"
            "{% else %}Pengaduan {{ kode }} dilimpahkan ke {{ instansi|truncate(50, True, '...') }}. "
            "Info: {{ link_lacak }}{% endif %}"
        )
    ),
    ("referred", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* bukan kewenangan kecamatan dan sudah kami limpahkan kepada "
            "{{ instansi }}.\nAlasan: {{ alasan }}"
            "{% if pantau_sampai %}\nKami memantau pelimpahan ini sampai {{ pantau_sampai }} dan akan memberi tahu "
            "Bapak/Ibu tanggapannya.{% endif %}\nStatus: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
        ),
    ),
    ("referral_answered", "email"): Template(
        subject="Tanggapan {{ instansi }} atas pengaduan {{ kode }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} sudah kami limpahkan kepada {{ instansi }}. "
            "Instansi tersebut sudah memberikan tanggapan{% if tanggal_tanggapan %} pada {{ tanggal_tanggapan }}{% endif %}"
            "{% if rujukan %} ({{ rujukan }}){% endif %}:\n\n{{ tanggapan }}\n\n"
            "Dengan tanggapan ini pengaduan Bapak/Ibu kami tutup. Untuk pertanyaan lebih lanjut, silakan hubungi "
            "{{ instansi }} langsung, atau ajukan pengaduan baru kepada kami.\n\nStatus: {{ link_lacak }}" + _SIGN_OFF
        ),
    ),
    ("referral_answered", "sms"): Template(
        body=(
            "Pengaduan {{ kode }}: {{ instansi|truncate(25, False, '...', 0) }} menanggapi: "
            "{{ tanggapan|replace('\\n', ' ')|truncate(42, False, '...', 0) }} {{ link_lacak }}"
        )
    ),
    ("referral_answered", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* yang kami limpahkan sudah ditanggapi oleh {{ instansi }}"
            "{% if tanggal_tanggapan %} pada {{ tanggal_tanggapan }}{% endif %}{% if rujukan %} ({{ rujukan }})"
            "{% endif %}:\n{{ tanggapan }}\n\nDengan tanggapan ini pengaduan Bapak/Ibu kami tutup.\n"
            "Status: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
        ),
    ),
    ("referral_lapsed", "email"): Template(
        subject="Pengaduan {{ kode }}: belum ada tanggapan dari {{ instansi }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} sudah kami limpahkan kepada {{ instansi }}"
            "{% if surat_pelimpahan %} dengan surat nomor {{ surat_pelimpahan }}{% endif %}. Sampai "
            "{{ pantau_sampai }}, batas waktu pemantauan kami, instansi tersebut belum memberikan tanggapan. Karena "
            "itu Kecamatan {{ kecamatan }} tidak lagi memantau pelimpahan ini, dan pengaduan Bapak/Ibu kami tutup.\n\n"
            "Bapak/Ibu dapat menanyakan kelanjutannya langsung kepada {{ instansi }}"
            "{% if alamat_instansi %}, {{ alamat_instansi }}{% endif %}. Sebutkan kode pengaduan {{ kode }}"
            "{% if surat_pelimpahan %} dan nomor surat pelimpahan di atas{% endif %}.\n\n"
            "Status: {{ link_lacak }}" + _SIGN_OFF
        ),
    ),
    ("referral_lapsed", "sms"): Template(
        body=(
            "Pengaduan {{ kode }} ditutup: {{ instansi|truncate(25, False, '...', 0) }} belum menanggapi. "
            "Silakan hubungi langsung. {{ link_lacak }}"
        )
    ),
    ("referral_lapsed", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, sampai {{ pantau_sampai }} {{ instansi }} belum menanggapi pelimpahan pengaduan "
            "*{{ kode }}*. Kecamatan tidak lagi memantaunya, dan pengaduan ini kami tutup.\n"
            "Silakan tanyakan langsung kepada {{ instansi }}{% if alamat_instansi %}, {{ alamat_instansi }}"
            "{% endif %}, dengan menyebut kode {{ kode }}{% if surat_pelimpahan %} dan surat pelimpahan nomor "
            "{{ surat_pelimpahan }}{% endif %}.\nStatus: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
        ),
    ),
    ("response_letter", "email"): Template(
        subject="Surat tanggapan atas pengaduan {{ kode }}",
        body=(
            "Yth. Bapak/Ibu {{ nama }},\n\nTerlampir surat tanggapan Camat atas pengaduan {{ kode }}, nomor {{ nomor_surat }}, "
            "ditandatangani secara elektronik.\nKeaslian surat dapat diperiksa di {{ link_surat }}\n\n"
            "Apakah pengaduan Bapak/Ibu sudah selesai? Mohon beri tahu kami dan nilai pelayanan kami di {{ link_lacak }}"
            + _SIGN_OFF
        ),
    ),
    ("response_letter", "sms"): Template(
        body="Surat tanggapan atas pengaduan {{ kode }} sudah terbit: {{ link_surat }}"
    ),
    ("response_letter", "whatsapp"): Template(
        body=(
            "Yth. Bapak/Ibu {{ nama }}, berikut surat tanggapan Camat atas pengaduan *{{ kode }}*, nomor "
            "{{ nomor_surat }}. Periksa keaslian: {{ link_surat }}\nSudah selesai? Beri penilaian: {{ link_lacak }}"
        )
    ),
    ("reopened", "email"): Template(
        subject="Pengaduan {{ kode }} dibuka kembali",
        body="Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} kami buka kembali dan ditangani ulang; tanggapan akan "
        "kami kirim paling lambat {{ batas }}.\n"
        "Ikuti prosesnya di {{ link_lacak }}" + _SIGN_OFF,
    ),
    ("reopened", "sms"): Template(
        body="Pengaduan {{ kode }} dibuka kembali, ditangani ulang s.d. {{ batas }}. {{ link_lacak }}"
    ),
    ("reopened", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* kami buka kembali dan ditangani ulang; tanggapan paling lambat {{ batas }}.\nLacak: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("objection_raised", "email"): Template(
        subject="Keberatan atas pengaduan {{ kode }} diteruskan kepada Camat",
        body="Yth. Bapak/Ibu {{ nama }},\n\nKeberatan Bapak/Ibu atas penanganan pengaduan {{ kode }} sudah kami terima "
        "dan kami teruskan kepada Camat, yang akan menanggapinya paling lambat {{ batas }}.\n"
        "Ikuti prosesnya di {{ link_lacak }}" + _SIGN_OFF,
    ),
    ("objection_raised", "sms"): Template(
        body="Keberatan atas pengaduan {{ kode }} diteruskan ke Camat, ditanggapi s.d. {{ batas }}. {{ link_lacak }}"
    ),
    ("objection_raised", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, keberatan atas pengaduan *{{ kode }}* sudah kami teruskan kepada Camat, yang menanggapinya paling lambat {{ batas }}.\nLacak: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("objection_answered", "email"): Template(
        subject="Tanggapan Camat atas keberatan pengaduan {{ kode }}",
        body="Yth. Bapak/Ibu {{ nama }},\n\nCamat telah memeriksa keberatan Bapak/Ibu atas pengaduan {{ kode }} dan "
        "menanggapi:\n\n{{ tanggapan_camat }}\n\nBila Bapak/Ibu masih keberatan, Bapak/Ibu dapat menyampaikannya kepada "
        "Ombudsman Republik Indonesia.\nStatus: {{ link_lacak }}" + _SIGN_OFF,
    ),
    ("objection_answered", "sms"): Template(
        body="Camat sudah menanggapi keberatan atas pengaduan {{ kode }}: {{ link_lacak }}"
    ),
    ("objection_answered", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, Camat sudah menanggapi keberatan atas pengaduan *{{ kode }}*:\n{{ tanggapan_camat }}\nStatus: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("objection", "email"): Template(
        subject="[{{ kode }}] Keberatan pengadu menunggu jawaban Camat",
        body=(
            "Yth. {{ petugas }},\n\nPengadu {{ kode }} ({{ perihal }}) menyatakan keberatan atas penanganan "
            "pengaduannya. Mohon dijawab paling lambat {{ batas }}: tetapkan tanggapan atau buka kembali pengaduannya."
            "\n{{ link }}\n\nKecamatan {{ kecamatan }}"
        ),
    ),
    ("objection", "sms"): Template(
        body="Keberatan pengadu {{ kode }} menunggu jawaban Camat s.d. {{ batas }}: {{ link }}"
    ),
    ("objection", "whatsapp"): Template(
        body="Yth. {{ petugas }}, keberatan pengadu *{{ kode }}* ({{ perihal }}) menunggu jawaban Camat paling lambat {{ batas }}.\n{{ link }}"
    ),
    ("identity_rejected", "email"): Template(
        subject="Pengaduan {{ kode }} tidak dapat diproses",
        body="Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} tidak dapat kami proses karena identitas pengadu tidak dapat diverifikasi.\nAlasan: {{ alasan }}"
        + _SIGN_OFF,
    ),
    ("identity_rejected", "sms"): Template(
        body="Pengaduan {{ kode }} tidak dapat diproses: identitas tidak dapat diverifikasi. Info: {{ link_lacak }}"
    ),
    ("identity_rejected", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* tidak dapat kami proses karena identitas tidak dapat diverifikasi.\nAlasan: {{ alasan }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("closed_incomplete", "email"): Template(
        subject="Pengaduan {{ kode }} ditutup",
        body="Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} kami tutup karena dokumen yang diminta tidak kami terima.\n{{ alasan }}\n\nBapak/Ibu dapat mengajukan pengaduan baru kapan saja."
        + _SIGN_OFF,
    ),
    ("closed_incomplete", "sms"): Template(
        body="Pengaduan {{ kode }} ditutup: dokumen yang diminta tidak diterima. Silakan ajukan kembali. -Kec. {{ kecamatan }}"
    ),
    ("closed_incomplete", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* kami tutup karena dokumen yang diminta tidak kami terima. Bapak/Ibu dapat mengajukan pengaduan baru kapan saja.\n- Kecamatan {{ kecamatan }}"
    ),
    ("withdrawn", "email"): Template(
        subject="Pengaduan {{ kode }} dicabut",
        body="Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} sudah dicabut dan tidak kami proses lebih lanjut.\n{{ alasan }}"
        + _SIGN_OFF,
    ),
    ("withdrawn", "sms"): Template(
        body="Pengaduan {{ kode }} sudah dicabut dan tidak diproses lagi. -Kec. {{ kecamatan }}"
    ),
    ("withdrawn", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* sudah dicabut dan tidak kami proses lebih lanjut.\n- Kecamatan {{ kecamatan }}"
    ),
    ("duplicate", "email"): Template(
        subject="Pengaduan {{ kode }} digabungkan dengan laporan sebelumnya",
        body="Yth. Bapak/Ibu {{ nama }},\n\nPengaduan {{ kode }} menyangkut hal yang sama dengan laporan lain yang "
        "sudah kami terima dan sedang kami tangani. Agar tidak ditangani dua kali, pengaduan Bapak/Ibu kami gabungkan "
        "dengan laporan tersebut dan tidak kami proses tersendiri.\nStatusnya dapat Bapak/Ibu lihat di {{ link_lacak }}"
        + _SIGN_OFF,
    ),
    ("duplicate", "sms"): Template(
        body="Pengaduan {{ kode }} sama dengan laporan lain yang sedang ditangani, jadi digabungkan. -Kec. {{ kecamatan }}"
    ),
    ("duplicate", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, pengaduan *{{ kode }}* menyangkut hal yang sama dengan laporan lain yang sedang kami tangani, sehingga kami gabungkan dan tidak diproses tersendiri.\nLacak: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("duplicate_joined", "email"): Template(
        subject="Laporan lain digabungkan dengan pengaduan {{ kode }}",
        body="Yth. Bapak/Ibu {{ nama }},\n\nKami menerima laporan lain tentang hal yang sama dengan pengaduan {{ kode }}. "
        "Laporan itu kami gabungkan dengan pengaduan Bapak/Ibu dan ditangani bersama; penanganan pengaduan Bapak/Ibu "
        "berjalan seperti biasa.\nIkuti prosesnya di {{ link_lacak }}" + _SIGN_OFF,
    ),
    ("duplicate_joined", "sms"): Template(
        body="Laporan lain tentang hal yang sama digabungkan dengan pengaduan {{ kode }}. Lacak: {{ link_lacak }} -Kec. {{ kecamatan }}"
    ),
    ("duplicate_joined", "whatsapp"): Template(
        body="Yth. Bapak/Ibu {{ nama }}, kami menerima laporan lain tentang hal yang sama dengan pengaduan *{{ kode }}*. Laporan itu kami gabungkan dengan pengaduan Bapak/Ibu dan ditangani bersama.\nLacak: {{ link_lacak }}\n- Kecamatan {{ kecamatan }}"
    ),
    ("new_work", "email"): Template(
        subject="[{{ kode }}] Langkah {{ langkah }}: {{ nama_langkah }}",
        body=(
            "Yth. {{ petugas }},\n\nPengaduan {{ kode }} ({{ perihal }}) menunggu Anda di langkah {{ langkah }}, "
            "{{ nama_langkah }}, paling lambat {{ batas }}.\n{{ link }}\n\nKecamatan {{ kecamatan }}"
        ),
    ),
    ("new_work", "sms"): Template(
        body="[{{ kode }}] Langkah {{ langkah }} menunggu Anda, batas {{ batas }}. {{ link }}"
    ),
    ("new_work", "whatsapp"): Template(
        body="Pengaduan *{{ kode }}* ({{ perihal }}) menunggu Anda di langkah {{ langkah }}, {{ nama_langkah }}, paling lambat {{ batas }}.\n{{ link }}"
    ),
    ("overdue", "email"): Template(
        subject="TERLAMBAT [{{ kode }}] Langkah {{ langkah }}: {{ nama_langkah }}",
        body=(
            "Yth. {{ petugas }},\n\nLangkah {{ langkah }} ({{ nama_langkah }}) pengaduan {{ kode }} ({{ perihal }}) "
            "melewati batas waktunya, {{ batas }}. Anda menerima pesan ini sebagai {{ sebagai }}.\n{{ link }}\n\n"
            "Kecamatan {{ kecamatan }}"
        ),
    ),
    ("overdue", "sms"): Template(body="TERLAMBAT: [{{ kode }}] langkah {{ langkah }}, batas {{ batas }}. {{ link }}"),
    ("overdue", "whatsapp"): Template(
        body="*TERLAMBAT*: langkah {{ langkah }} ({{ nama_langkah }}) pengaduan *{{ kode }}* melewati batas {{ batas }}. Anda menerima ini sebagai {{ sebagai }}.\n{{ link }}"
    ),
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """A template's text compiled once per process: compiling costs about ten times the rendering (every message
    planned rendered its texts from scratch); a text edited by staff is a new key, so an edit applies at once."""
    return _env.from_string(source)


class TemplateInvalid(ValueError):
    pass


def render(template: Template, variables: dict[str, str]) -> tuple[str | None, str]:
    """(subject, body). Raises TemplateInvalid for a template that does not render."""
    try:
        subject = _compiled(template.subject).render(variables).strip() if template.subject else None
        body = _compiled(template.body).render(variables).strip()
    except Exception as exc:  # jinja2 syntax, an unknown variable, a sandbox refusal  # noqa: BLE001
        raise TemplateInvalid(f"{type(exc).__name__}: {exc}") from None
    return subject, body


def sample_variables(kind: str) -> dict[str, str]:
    """Plausible values of a usual length, to check a template renders (and an SMS fits) before storing it."""
    sample = {
        "nama": "Siti Aminah",
        "kode": "ABCD-EFGH-JK",
        "kecamatan": "Pegantenan",
        "tanggal": "28 November 2026 09.15 WIB",
        "link_lacak": "https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK",
        "link_tanda_terima": "https://pengaduan.pamekasankab.go.id/lacak/ABCD-EFGH-JK/tanda-terima.pdf",
        "pesan": "foto KTP yang jelas",
        "batas": "12 Desember 2026",
        "instansi": "Dinas PUPR Kabupaten Pamekasan",
        "alasan": "Perbaikan jalan kabupaten adalah kewenangan Dinas PUPR.",
        "nomor_surat": "000.8.3.4/12/432.407/2026",  # as shared.contracts.numbering writes Pegantenan's
        "link_surat": "https://pengaduan.pamekasankab.go.id/v1/letters/verify/3f2b5c1e-8a4d-4c7b-9e1f-2a6d8c0b4e57",
        "petugas": "Ahmad Fauzi",
        "langkah": "4",
        "nama_langkah": "Disposisi",
        "perihal": "Jalan desa rusak",
        "link": "https://pengaduan.pamekasankab.go.id/staf/pengaduan/ABCD-EFGH-JK",
        "sebagai": "atasan",
        "pantau_sampai": "16 Desember 2026",
        "tanggapan": "Perbaikan jalan itu sudah masuk jadwal pemeliharaan Dinas PUPR pada Januari 2027.",
        "tanggal_tanggapan": "9 Desember 2026",
        "rujukan": "surat 600/123/432.305/2026",
        "alamat_instansi": "Jl. Kabupaten No. 1, Pamekasan",
        "surat_pelimpahan": "000.8.3.4/13/432.407/2026",
        "rahasia": "ya",  # the longer text: an SMS must fit with it
        "tanggapan_camat": "Perbaikan jalan sudah dijadwalkan; unit Pemerintahan memantau pelaksanaannya setiap pekan.",
    }
    return {name: sample[name] for name in VARIABLES[kind]}


def validate(kind: str, channel: str, template: Template) -> list[str]:
    """Problems of a template a person wrote (empty: fine). Raises TemplateInvalid if it does not render."""
    if kind not in VARIABLES:
        raise TemplateInvalid(f"unknown kind {kind!r}; known: {', '.join(VARIABLES)}")
    if channel not in CHANNELS:
        raise TemplateInvalid(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    if channel == "email" and not template.subject:
        raise TemplateInvalid("an e-mail template needs a subject")
    _, body = render(template, sample_variables(kind))
    warnings = []
    if channel == "sms":
        segments = sms_segments(to_gsm(body))
        if segments > 1:
            warnings.append(f"with sample values this SMS takes {segments} segments (aim: 1, 160 characters)")
    return warnings


# -- SMS: the GSM 03.38 alphabet ----------------------------------------------------------------------------
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€")  # two septets each
_REPLACEMENTS = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "•": "-",
    "·": "-",
    "\t": " ",
    "*": "",
}


def to_gsm(text: str) -> str:
    """The text in the GSM 7-bit alphabet: typographic marks replaced, WhatsApp-style bold dropped, other
    characters outside the alphabet replaced by '?'."""
    out = []
    for ch in text:
        ch = _REPLACEMENTS.get(ch, ch)
        out.append(ch if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in ch) else "?")
    return "".join(out)


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (GSM-7: 160 in one, 153 each when concatenated; UCS-2: 70/67)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
