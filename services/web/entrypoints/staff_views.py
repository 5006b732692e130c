"""What the staff pages show, read from the APIs' answers: labels in Bahasa Indonesia, the timeline of a
complaint measured against the SOP's standard time of each step, its documents. Pure: JSON in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.web.domain import formatting
from services.web.entrypoints.staff_actions import AGENCY_KINDS
from shared.contracts import sop
from shared.contracts.intake import CHANNEL_LABELS as INTAKE_CHANNEL_LABELS

STATUS_LABELS = {
    "in_progress": "Diproses",
    "awaiting_documents": "Menunggu dokumen pengadu",
    "referred": "Dipantau kecamatan",  # referred, waiting for the receiving office's answer
    "objection": "Keberatan, menunggu jawaban Camat",  # docs/adr/0020
    "closed": "Selesai",
    "new": "Baru",
}
OUTCOME_LABELS = {
    "resolved": "Selesai, tanggapan dikirim",
    "referred": "Dilimpahkan",
    "identity_rejected": "Ditolak, identitas tidak jelas",
    "incomplete": "Ditutup, dokumen tidak lengkap",
    "withdrawn": "Dicabut",
    "duplicate": "Duplikat",
}
# how a complaint came in (the contract's labels), and how a response letter went out by hand (step 12)
CHANNEL_LABELS = {
    **INTAKE_CHANNEL_LABELS,
    "pos": "Pos",
    "langsung": "Diserahkan langsung",
    "kurir": "Kurir",
    "lacak": "Halaman pelacakan",
}
ATTACHMENT_KINDS = {"ktp": "KTP", "sim": "SIM", "kk": "Kartu Keluarga", "foto": "Foto", "lainnya": "Lainnya"}
DOCUMENT_KINDS = {
    "receipt": "Tanda terima pengaduan",
    "draft": "Konsep surat tanggapan",
    "response_letter": "Surat tanggapan bertanda tangan",
    "disposition_sheet": "Lembar Disposisi",
    "referral_letter": "Surat Pelimpahan",
}
# what opens in the browser: images only (re-encoded on intake; WebP for files kept before that). A PDF is
# always downloaded: its viewer cannot run under the sandbox every file is served with (README, intake)
INLINE_TYPES = {"image/jpeg", "image/png", "image/webp"}
PREVIEWABLE = INLINE_TYPES
SOON = timedelta(hours=2)  # "segera": due within this time
DATES = {"follow_up_by", "answered_on"}  # shown as a date (in the kabupaten's zone)

EVENT_TITLES = {
    "workflow.ComplaintReceived": "Pengaduan diterima",
    "workflow.IdentityVerified": "Identitas pengadu diverifikasi",
    "workflow.DocumentsRequested": "Kelengkapan dokumen diminta kepada pengadu",
    "workflow.DocumentsReceived": "Kelengkapan dokumen diterima",
    "workflow.IdentityRejected": "Ditolak: identitas pengadu tidak jelas",
    "workflow.ClosedIncomplete": "Ditutup: dokumen tidak lengkap",
    "workflow.ComplaintRegistered": "Dicatat di Buku Rekap Pengaduan",
    "workflow.DispositionIssued": "Disposisi tindak lanjut",
    "workflow.DispositionRedirected": "Disposisi dialihkan ke unit lain",
    "workflow.ComplaintReferred": "Dilimpahkan ke instansi lain",
    "workflow.ReferralAnswered": "Tanggapan instansi penerima pelimpahan dicatat",
    "workflow.ReferralLapsed": "Pemantauan pelimpahan berakhir tanpa tanggapan instansi",
    "workflow.ClarificationGiven": "Klarifikasi diberikan",
    "workflow.LetterRequested": "Staf diminta menyiapkan surat tanggapan",
    "workflow.LetterDrafted": "Konsep surat tanggapan disiapkan",
    "workflow.LetterApproved": "Surat tanggapan diparaf",
    "workflow.LetterReturned": "Konsep surat dikembalikan dengan catatan",
    "workflow.LetterDuplicated": "Surat tanggapan digandakan",
    "workflow.LetterSigned": "Surat tanggapan ditandatangani",
    "workflow.LetterIssued": "Surat bertanda tangan elektronik tersedia",
    "workflow.LetterArchived": "Surat tanggapan diarsipkan",
    "workflow.ResponseDispatched": "Surat tanggapan dikirim melalui kontak pengadu",
    "workflow.ResponseSent": "Pengadu menerima tanggapan",
    "workflow.ComplaintWithdrawn": "Pengaduan dicabut",
    "workflow.MarkedDuplicate": "Ditandai sebagai duplikat",
    "workflow.CategorySet": "Kategori pengaduan ditetapkan",
    "workflow.FeedbackReceived": "Pengadu memberi penilaian atas tanggapan",
    "workflow.ComplaintReopened": "Pengaduan dibuka kembali",
    "workflow.ObjectionRaised": "Keberatan pengadu diteruskan kepada Camat",
    "workflow.ObjectionAnswered": "Camat menjawab keberatan pengadu",
    "workflow.StepOverdue": "Langkah melewati batas waktu",
    "workflow.NotificationSent": "Pesan terkirim",
    "workflow.NotificationDelivered": "Pesan diterima",
    "workflow.NotificationFailed": "Pesan gagal dikirim",
    "workflow.NotificationUncertain": "Pengiriman pesan belum pasti",
    "workflow.ComplainantReplied": "Pengadu mengirim balasan",
}
# the payload fields worth showing, with their labels
DETAILS = (
    ("register_number", "Nomor register"),
    ("unit", "Unit"),
    ("instructions", "Instruksi"),
    ("agency", "Instansi"),
    ("agency_address", "Alamat instansi"),
    ("reason", "Alasan"),
    ("follow_up_by", "Dipantau sampai"),
    ("answer", "Tanggapan instansi"),
    ("answered_on", "Tanggal tanggapan"),
    ("reference", "Nomor surat atau cara diterima"),
    ("explanation", "Penjelasan"),
    ("notes", "Catatan"),
    ("message", "Pesan"),
    ("perihal", "Perihal"),
    ("letter_version", "Versi konsep"),
    ("letter_number", "Nomor surat"),
    ("copies", "Salinan"),
    ("channel", "Saluran"),
    ("recipient", "Penerima"),
    ("receipt", "Tanda terima"),
    ("duplicate_of", "Duplikat dari"),
    ("category", "Kategori"),
    ("satisfied", "Sudah selesai menurut pengadu"),
    ("rating", "Penilaian (1-4)"),
    ("comment", "Keterangan pengadu"),
    ("decision", "Keputusan"),
    ("previous", "Kategori sebelumnya"),
    ("text", "Isi"),
    ("error", "Keterangan"),
    ("entered_by", "Dicatat oleh"),
)
NOT_STEP_WORK = {
    "workflow.StepOverdue",
    "workflow.ReferralAnswered",  # followed against the referral's own time (follow_up_by), not step 4's
    "workflow.DocumentsRequested",
    "workflow.ResponseDispatched",
    "workflow.LetterIssued",
    "workflow.ComplainantReplied",
    "workflow.CategorySet",  # set beside the step's work, not the step done
    "workflow.FeedbackReceived",  # after the response (docs/adr/0020): the complainant's, not a step's
    "workflow.ObjectionRaised",
    "workflow.ObjectionAnswered",
}


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def standard_text(step: sop.Step) -> str:
    unit = "menit" if step.unit == "minutes" else "hari kerja"
    return f"{step.standard_time} {unit}"


def definition_of(complaint: dict) -> sop.SopDefinition:
    """The SOP the complaint started with (its version and the kecamatan's overrides, from its first event)."""
    first = complaint["history"][0]["payload"] if complaint.get("history") else {}
    try:
        return sop.definition_for(first.get("sop_version") or sop.DEFAULT.version, first.get("sop_overrides"))
    except (KeyError, ValueError):
        return sop.DEFAULT


def who(actor: dict, role_labels: dict[str, str]) -> str:
    if actor.get("kind") == "system":
        return f"Sistem ({actor.get('user_id') or '-'})"
    if actor.get("kind") == "complainant":
        return "Pengadu"
    name = actor.get("user_id")
    role = actor.get("role")
    if not name:  # a masked view names the role only
        return role_labels.get(role, role) if role else "-"
    return f"{name} ({role_labels.get(role, role)})" if role else name


@dataclass
class TimelineItem:
    title: str
    who: str
    at: datetime
    step: int | None = None
    step_name: str | None = None
    output: str | None = None
    standard: str | None = None
    due_at: datetime | None = None
    over: bool | None = None  # None: no standard applies
    details: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)
    overdue_event: bool = False


def _detail_text(key: str, value: Any, zone: formatting.Zone) -> str | None:
    if value in (None, "", []):
        return None
    if key == "copies" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if key == "channel":
        return CHANNEL_LABELS.get(str(value), str(value))
    if key in DATES:
        return formatting.tanggal(value, zone)
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if key == "decision":  # the Camat's answer to a keberatan (docs/adr/0020)
        return {"upheld": "Tanggapan ditetapkan", "reopened": "Dibuka kembali"}.get(str(value), str(value))
    return str(value)


def timeline(complaint: dict, role_labels: dict[str, str], zone: formatting.Zone) -> list[TimelineItem]:
    """The history, each step's completion against the due time the SOP's standard set for it; the dates in its
    details (a referral's follow-up, an answer's date) are the kabupaten's (``zone``)."""
    definition = definition_of(complaint)
    items: list[TimelineItem] = []
    due: dict[int, datetime | None] = {}  # the due time of each step as it started
    for h in complaint.get("history", []):
        p, kind, at = h.get("payload") or {}, h["type"], parse_time(h["occurred_at"])
        item = TimelineItem(
            title=EVENT_TITLES.get(kind, kind.split(".")[-1]), at=at, who=who(h.get("actor") or {}, role_labels)
        )
        step = h.get("step") if h.get("step") is not None else p.get("step")
        if step:
            item.step = step
            try:
                item.step_name = definition.step(step).name
            except IndexError:
                item.step_name = None
        item.output = h.get("output") or p.get("output")
        if kind == "workflow.ComplaintRegistered" and p.get("register_number"):
            item.details.append(("Nomor register", f"{p['register_number']}/{p.get('register_year', '')}"))
        for key, label in DETAILS:
            if key == "register_number" or (key == "channel" and kind == "workflow.ComplaintReceived"):
                continue
            text = _detail_text(key, p.get(key), zone)
            if text is not None:
                if kind == "workflow.ObjectionAnswered" and key == "answer":
                    label = "Jawaban Camat"
                elif kind == "workflow.ComplaintReopened" and key == "instructions":
                    label = "Instruksi Camat"
                item.details.append((label, text))
        if kind == "workflow.ComplaintReferred" and p.get("agency_kind"):
            item.details.append(("Jenis instansi", dict(AGENCY_KINDS).get(p["agency_kind"], p["agency_kind"])))
        if kind == "workflow.LetterDrafted" and p.get("body"):
            item.details.append(("Isi surat", str(p["body"])))
        if kind == "workflow.StepOverdue":
            item.overdue_event = True
            if p.get("due_at"):
                item.due_at = parse_time(p["due_at"])
        item.attachments = [a for a in (p.get("attachments") or []) if isinstance(a, dict)]
        # against the standard: a person's work that completes (or closes) the step it was at
        if (
            step
            and step > 1
            and kind not in NOT_STEP_WORK
            and not kind.startswith("workflow.Notification")
            and h.get("actor", {}).get("kind") == "user"
        ):
            try:  # noqa: SIM105
                item.standard = standard_text(definition.step(step))
            except IndexError:
                pass
            item.due_at = due.get(step)
            if item.due_at is not None:
                item.over = at > item.due_at
        if p.get("next_step") and "next_due_at" in p:
            due[p["next_step"]] = parse_time(p.get("next_due_at"))
        elif kind == "workflow.DocumentsReceived":
            due[2] = parse_time(p.get("next_due_at"))
        items.append(item)
    return items


def attachments_of(complaint: dict) -> list[dict]:
    """The scans that came with the complaint and with the complainant's replies, each once. A masked view
    lists each file by its kind and size only (no digest, no name): it cannot be opened from there."""
    seen: dict[str, dict] = {}
    for h in complaint.get("history", []):
        for n, a in enumerate((h.get("payload") or {}).get("attachments") or []):
            if not isinstance(a, dict):
                continue
            key = a.get("sha256") or f"{h.get('position')}-{n}"
            if key not in seen:
                seen[key] = {
                    **a,
                    "kind_label": ATTACHMENT_KINDS.get(a.get("kind") or "", "Lampiran"),
                    "previewable": a.get("content_type") in PREVIEWABLE,
                    "downloadable": bool(a.get("sha256")),
                }
    return list(seen.values())


def dispatched_waiting(complaint: dict) -> bool:
    """Step 12 handed to notify and not yet confirmed: sending automatically again is refused."""
    return any(h["type"] == "workflow.ResponseDispatched" for h in complaint.get("history", []))


def has_contact(complaint: dict) -> bool:
    person = complaint.get("complainant") or {}
    return bool(person.get("email") or person.get("phone"))


def document_label(doc: dict) -> str:
    label = DOCUMENT_KINDS.get(doc.get("kind"), doc.get("kind") or "Dokumen")
    if doc.get("kind") == "draft" and doc.get("letter_version"):
        label += f" versi {doc['letter_version']}"
    if doc.get("kind") == "response_letter" and doc.get("letter_number"):
        label += f" nomor {doc['letter_number']}"
    if doc.get("kind") == "referral_letter" and doc.get("letter_number"):
        label += f" {doc['letter_number']}"
    return label


def labelled_documents(docs: list[dict]) -> list[dict]:
    """The complaint's documents (oldest first, as the letters API lists them) with their labels; a Lembar
    Disposisi after the first is a redirect's (one disposition per complaint, then only redirects)."""
    sheets = 0
    for d in docs:
        d["label"] = document_label(d)
        if d.get("kind") == "disposition_sheet":
            sheets += 1
            if sheets > 1:
                d["label"] += " (pengalihan)"
    return docs


@dataclass
class Referral:
    """A referral (dilimpahkan) as the page tells it: to whom, followed until when, and how it ended."""

    agency: str
    agency_kind: str | None
    follow_up_by: datetime | None
    letter_number: str | None
    answer: dict[str, Any] | None = None  # the ReferralAnswered payload, once recorded
    lapsed_at: datetime | None = None  # when the kecamatan stopped waiting, without an answer


def referral_of(complaint: dict) -> Referral | None:
    """The complaint's latest referral from its history (None: never referred)."""
    found: Referral | None = None
    for h in complaint.get("history", []):
        p = h.get("payload") or {}
        if h["type"] == "workflow.ComplaintReferred":
            found = Referral(
                agency=str(p.get("agency") or "instansi lain"),
                agency_kind=dict(AGENCY_KINDS).get(p.get("agency_kind") or "", p.get("agency_kind")),
                follow_up_by=parse_time(p.get("follow_up_by")),
                letter_number=p.get("letter_number"),
            )
        elif found is not None and h["type"] == "workflow.ReferralAnswered":
            found.answer = {**p, "at": parse_time(h["occurred_at"])}
        elif found is not None and h["type"] == "workflow.ReferralLapsed":
            found.lapsed_at = parse_time(h["occurred_at"])
    return found


def due_state(due_at: datetime | None, overdue: bool, now: datetime) -> str | None:
    """``terlambat`` (past due), ``segera`` (due within two hours) or None."""
    if overdue:
        return "terlambat"
    if due_at is not None and due_at - now <= SOON:
        return "segera"
    return None


def complaint_label(complaint: dict) -> str:
    """How the page names a complaint: its tracking code; in a masked view (no code) its register number."""
    if complaint.get("tracking_code"):
        return complaint["tracking_code"]
    return f"nomor register {complaint['register_number']}" if complaint.get("register_number") else "(kode disamarkan)"
