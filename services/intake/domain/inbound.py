"""What arrives on the inbound channels, read into plain values: the WhatsApp Cloud API webhook payload, a raw
e-mail, and the rules that turn any of them into a complaint's subject, description and time.

Pure: no I/O, no clock (callers pass ``now``). Unreadable input raises ``InvalidInbound`` with a stable
``code`` and a message in Bahasa Indonesia.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, MIMEPart
from html.parser import HTMLParser
from typing import Any, Final, cast

from services.intake.domain.email_auth import sender_authenticated
from shared import identity

CHANNEL_LABELS: Final = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "E-mail"}
NO_TEXT: Final = "(tanpa teks)"
MAX_SUBJECT: Final = 120
MAX_DESCRIPTION: Final = 10_000
MAX_AGE: Final = timedelta(days=7)
CLOCK_SKEW: Final = timedelta(minutes=5)
FALLBACK_NAME: Final = {"sms": "Pengadu via SMS", "whatsapp": "Pengadu via WhatsApp", "email": "Pengadu via e-mail"}


class InvalidInbound(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- text -----------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str | None) -> str:
    """Text as a person wrote it: line breaks normalised, control characters and lone surrogates removed,
    blank edges stripped."""
    if not value:
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATES.sub("", _CONTROL.sub("", text))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _one_line(value: str, limit: int) -> str:
    line = re.sub(r"\s+", " ", value).strip()
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + "…"


@dataclass(frozen=True)
class Wording:
    subject: str
    description: str


def wording(channel: str, text: str, subject: str | None = None, notes: list[str] | None = None) -> Wording:
    """Subject: the e-mail's Subject, else the first line of the text (at most 120 characters), else
    "Pengaduan via <channel>". Description: the text (or "(tanpa teks)"), then any notes."""
    text = clean_text(text)
    subject_line = _one_line(clean_text(subject), MAX_SUBJECT) if subject and clean_text(subject) else ""
    if not subject_line and text:
        subject_line = _one_line(next(line for line in text.split("\n") if line.strip()), MAX_SUBJECT)
    if not subject_line:
        subject_line = f"Pengaduan via {CHANNEL_LABELS.get(channel, channel)}"
    description = text or NO_TEXT
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 12].rstrip() + "\n[dipotong]"
    extra = [n for n in (notes or []) if n]
    if extra:
        description = description + "\n\n" + "\n".join(extra)
    return Wording(subject=subject_line, description=description)


# --- pelapor rahasia by keyword ----------------------------------------------------------------------

# The word a message opens with to ask that the complainant's identity be kept confidential (issue #17 item 5: the
# web form's checkbox, for SMS, WhatsApp and e-mail). Only as the first word: "rahasia" further on, or a longer word
# ("RAHASIAKAN"), is the complaint's own text. Read generously, since a miss is the costly error (a whistleblower's
# name shown to every Staf; a match only hides a name): in any case, in full-width letters, after invisible
# characters (a BOM, a zero-width space), dressed as people dress a word in a chat or a subject (between
# asterisks, underscores, brackets or parentheses; after a hash), then any punctuation or nothing; an e-mail
# subject also after Re: or Fwd:
CONFIDENTIAL_KEYWORD: Final = "RAHASIA"


def _any_width(letter: str) -> str:
    """A letter in either case, in ASCII or full width (U+FF21...)."""
    forms = {letter.upper(), letter.lower()}
    return "[" + "".join(sorted(forms | {chr(ord(f) + 0xFEE0) for f in forms})) + "]"


_OPEN = r"[*_\[(#\uff03~]"  # what a chat or a subject dresses a word in
_CLOSE = r"[*_\])~]"
_KEYWORD = re.compile(
    rf"(?:{_OPEN}[ \t]*)*{''.join(_any_width(c) for c in CONFIDENTIAL_KEYWORD)}(?![^\W_])"  # the word, whole
    rf"{_CLOSE}*[ \t]*[:\uff1a,.;!\-\u2013\u2014]*\s*"
)
_REPLY_PREFIX = re.compile(r"(?:(?:re|fw|fwd|aw|tr)[ \t]*:[ \t]*)*", re.IGNORECASE)


def _start(text: str) -> int:
    """Where a text's first visible character is: past blanks and formatting characters (BOM, zero-width...)."""
    for i, ch in enumerate(text):
        if not (ch.isspace() or unicodedata.category(ch) == "Cf"):
            return i
    return len(text)


@dataclass(frozen=True)
class Keyword:
    confidential: bool
    text: str
    subject: str | None


def confidential_keyword(text: str, subject: str | None = None) -> Keyword:
    """Whether a new complaint's message asks for confidentiality, and its text and subject without the asking.

    It asks when the text (an SMS, a WhatsApp message, an e-mail's body) or the subject (an e-mail's, after any
    Re:/Fwd:) begins with the word ``RAHASIA`` (see ``CONFIDENTIAL_KEYWORD``'s note for how generously); the word,
    what it is dressed in, the punctuation and blanks after it are taken off wherever it is found, and a subject that
    held only it becomes None (the text's first line is the subject then)."""
    text = text or ""
    in_text = _KEYWORD.match(text, _start(text))
    if in_text:
        text = text[in_text.end() :]
    in_subject = None
    if subject:
        after_prefix = _REPLY_PREFIX.match(subject, _start(subject))
        in_subject = _KEYWORD.match(subject, after_prefix.end() if after_prefix else 0)
        if in_subject:
            subject = subject[in_subject.end() :].strip() or None
    return Keyword(confidential=bool(in_text or in_subject), text=text, subject=subject)


def received_at(provider_time: datetime | None, now: datetime) -> datetime:
    """The provider's time when it is plausible (not in the future, not older than 7 days), else ``now``."""
    if provider_time is None or provider_time.tzinfo is None:
        return now
    if provider_time > now + CLOCK_SKEW or provider_time < now - MAX_AGE:
        return now
    return min(provider_time, now).astimezone(UTC)


# --- senders --------------------------------------------------------------------------------------


def phone_sender(value: str | None) -> str:
    """A sender's number in E.164 (region ID for national numbers); raises ``InvalidInbound``."""
    try:
        return identity.normalize_phone(value or "")
    except identity.InvalidIdentity:
        raise InvalidInbound("sender_invalid", "Nomor pengirim tidak valid.") from None


def whatsapp_sender(wa_id: str) -> str:
    """WhatsApp ids are the number in international form without '+' (``6281234567890``)."""
    digits = (wa_id or "").strip().lstrip("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise InvalidInbound("sender_invalid", "Nomor pengirim tidak valid.")
    try:
        return identity.normalize_phone("+" + digits)
    except identity.InvalidIdentity:
        return "+" + digits  # already E.164 by WhatsApp's own rules, even if phonenumbers does not know the range


def email_sender(value: str | None) -> str:
    try:
        return identity.normalize_email(value or "")
    except identity.InvalidIdentity:
        raise InvalidInbound("sender_invalid", "Alamat e-mail pengirim tidak valid.") from None


# --- WhatsApp Cloud API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaRef:
    media_id: str
    filename: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class WhatsAppMessage:
    id: str
    wa_id: str
    phone_number_id: str | None
    profile_name: str | None
    type: str
    text: str
    media: tuple[MediaRef, ...] = ()
    timestamp: datetime | None = None

    @property
    def supported(self) -> bool:
        return self.type in ("text", "image", "document")


@dataclass(frozen=True)
class WhatsAppStatus:
    id: str
    status: str
    recipient_id: str | None
    timestamp: datetime | None
    biz_opaque_callback_data: str | None
    error: str | None
    raw: dict[str, Any] = field(default_factory=dict)


def _str(value: Any, limit: int = 4096) -> str | None:
    """A short text value (an id, a name): control characters and lone surrogates removed."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = _SURROGATES.sub("", _CONTROL.sub("", str(value).replace("\x00", ""))).strip()
        return text[:limit] if text else None
    return None


def _storable(value: Any) -> Any:
    """JSON PostgreSQL can store: no NUL characters or lone surrogates in any string."""
    if isinstance(value, str):
        return _SURROGATES.sub("", value.replace("\x00", ""))
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    return value


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _epoch(value: Any) -> datetime | None:
    text = _str(value, 20)
    if text is None or not text.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_whatsapp(payload: Any) -> tuple[list[WhatsAppMessage], list[WhatsAppStatus]]:
    """Messages and delivery statuses of a Cloud API webhook (``entry[].changes[].value``). Anything not
    shaped as documented is skipped, never an error: Meta retries a webhook that is not answered 200."""
    messages: list[WhatsAppMessage] = []
    statuses: list[WhatsAppStatus] = []
    if not isinstance(payload, dict):
        return messages, statuses
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = _dict(value.get("metadata"))
            phone_number_id = _str(metadata.get("phone_number_id"), 64)
            names = {}
            for contact in _dicts(value.get("contacts")):
                profile = _dict(contact.get("profile"))
                wa_id, name = _str(contact.get("wa_id"), 32), _str(profile.get("name"), 100)
                if wa_id and name:
                    names[wa_id] = name
            for m in _dicts(value.get("messages")):
                parsed = _whatsapp_message(m, phone_number_id, names)
                if parsed is not None:
                    messages.append(parsed)
            for s in _dicts(value.get("statuses")):
                sid, status = _str(s.get("id"), 256), _str(s.get("status"), 32)
                if not sid or not status:
                    continue
                errors = _dicts(s.get("errors"))
                error = (_str(errors[0].get("title"), 500) or _str(errors[0].get("message"), 500)) if errors else None
                statuses.append(
                    WhatsAppStatus(
                        id=sid,
                        status=status,
                        recipient_id=_str(s.get("recipient_id"), 32),
                        timestamp=_epoch(s.get("timestamp")),
                        biz_opaque_callback_data=_str(s.get("biz_opaque_callback_data"), 512),
                        error=error,
                        raw=_storable(s),
                    )
                )
    return messages, statuses


def _whatsapp_message(m: dict[str, Any], phone_number_id: str | None, names: dict[str, str]) -> WhatsAppMessage | None:
    mid, wa_id, kind = _str(m.get("id"), 256), _str(m.get("from"), 32), _str(m.get("type"), 32)
    if not mid or not wa_id or not kind:
        return None
    text = ""
    media: list[MediaRef] = []
    if kind == "text" and isinstance(m.get("text"), dict):
        text = _str(m["text"].get("body"), 65536) or ""
    elif kind in ("image", "document") and isinstance(m.get(kind), dict):
        item = m[kind]
        text = _str(item.get("caption"), 65536) or ""
        media_id = _str(item.get("id"), 128)
        if media_id:
            media.append(MediaRef(media_id, _str(item.get("filename"), 255), _str(item.get("mime_type"), 128)))
    return WhatsAppMessage(
        id=mid,
        wa_id=wa_id,
        phone_number_id=phone_number_id,
        profile_name=names.get(wa_id),
        type=kind,
        text=text,
        media=tuple(media),
        timestamp=_epoch(m.get("timestamp")),
    )


# --- e-mail ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str  # the Message-ID, or a digest of the raw bytes when there is none
    sender: str  # normalised From address
    sender_name: str | None
    subject: str
    text: str
    recipients: tuple[str, ...]  # Delivered-To, X-Original-To, To, Cc: lower case, in that order
    files: tuple[tuple[bytes, str | None], ...]
    date: datetime | None
    automatic: bool  # an auto-reply or a bounce: never a complaint
    authenticated: bool = False  # a configured receiving server found DMARC (or aligned DKIM) pass for From


def _header(msg: EmailMessage, name: str) -> Any:
    try:
        return msg[name]
    except (ValueError, TypeError, IndexError, AttributeError):  # a header the parser could not make sense of
        return None


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) of every address in every ``name`` header."""
    result: list[tuple[str, str]] = []
    try:
        headers = msg.get_all(name) or []
    except (ValueError, TypeError, IndexError, AttributeError):
        return result
    for header in headers:
        if hasattr(header, "addresses"):
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses or ()]
        else:  # Delivered-To, X-Original-To: not address headers to the parser
            pairs = email.utils.getaddresses([str(header)])
        for display, spec in pairs:
            spec = (spec or "").strip()
            if "@" in spec:
                result.append(((display or "").strip(), spec))
    return result


_LOOKS_LIKE_AN_ADDRESS = re.compile(r"[@\uff20\ufe6b]")  # @, and the full-width and small @ a reader takes for one


def _unambiguous_from(msg: EmailMessage, senders: list[tuple[str, str]]) -> bool:
    """Whether the From we read is the From the mail server judged: one header, one address, parsed without a
    defect, and no display name that is itself an address. ``From: victim@a.example <x@b.example>`` is read by
    Python as victim@a.example (with defects) while DMARC judged b.example; ``"victim@a.example" <x@b.example>``
    is read right but shows a reader the victim's address."""
    if len(senders) != 1:
        return False  # which one DMARC judged is unknowable
    try:
        headers = msg.get_all("From") or []
    except (ValueError, TypeError, IndexError, AttributeError):
        return False
    if len(headers) != 1 or getattr(headers[0], "defects", None):
        return False
    display, _ = senders[0]
    return not _LOOKS_LIKE_AN_ADDRESS.search(display)


def parse_email(raw: bytes, authserv_ids: frozenset[str] = frozenset()) -> ParsedEmail:
    """A raw RFC 5322 message; raises ``InvalidInbound`` when it has no usable sender. ``authenticated`` when
    the topmost ``Authentication-Results`` of one of ``authserv_ids`` vouches for its single From address
    (``domain.email_auth``)."""
    if not raw or not raw.strip():
        raise InvalidInbound("email_empty", "Isi e-mail kosong.")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)  # noqa: S101
    # From, not Reply-To: anyone can write someone else's address in Reply-To, and the sender is who a
    # reply joins a complaint for (DMARC vouches for From)
    senders = _addresses(msg, "From")
    if not senders:
        raise InvalidInbound("sender_invalid", "Alamat e-mail pengirim tidak dapat dibaca.")
    display, address = senders[0]
    sender = email_sender(address)
    try:
        results = msg.get_all("Authentication-Results") or []
    except (ValueError, TypeError, IndexError, AttributeError):
        results = []
    # several From addresses, or one read ambiguously: which one DMARC judged is unknowable, none is vouched for
    authenticated = _unambiguous_from(msg, senders) and sender_authenticated(results, sender, authserv_ids)
    message_id = _str(str(_header(msg, "Message-ID") or ""), 998)
    if message_id is None:
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    elif len(message_id.encode()) > 200:  # an index entry must stay small: a long id is kept as its digest
        message_id = "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    subject = clean_text(str(_header(msg, "Subject") or ""))
    recipients: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for _, addr in _addresses(msg, name):
            if addr.lower() not in recipients:
                recipients.append(addr.lower())
    # not the Date header: the sender writes it, and it would set the SOP's clock; the time it reached us counts
    date = None
    auto = str(_header(msg, "Auto-Submitted") or "no").strip().lower()
    local = address.split("@", 1)[0].lower()
    automatic = auto != "no" or local in ("mailer-daemon", "postmaster") or msg.get_content_type() == "multipart/report"
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _text_of(body)
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    return ParsedEmail(
        message_id=message_id,
        sender=sender,
        sender_name=clean_text(display)[:100] or None,
        subject=subject,
        text=clean_text(text),
        recipients=tuple(recipients),
        files=tuple(_files(msg, body)),
        date=date,
        automatic=automatic,
        authenticated=authenticated,
    )


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset: read it as UTF-8, replacing errors
        payload = cast(bytes | None, part.get_payload(decode=True)) or b""  # decoded: a leaf's bytes
        return payload.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else ""


def _files(msg: EmailMessage, body: MIMEPart | None) -> list[tuple[bytes, str | None]]:
    """Every leaf part that is not a body: attachments first, then inline parts (signature logos last)."""
    explicit: list[tuple[bytes, str | None]] = []
    inline: list[tuple[bytes, str | None]] = []
    for part in msg.walk():
        if part.is_multipart() or part is body:
            continue
        disposition = part.get_content_disposition()
        if part.get_content_maintype() == "text" and disposition != "attachment":
            continue  # the other alternative of the body, or a text part of a forwarded message
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            filename = part.get_filename()
        except (ValueError, TypeError, IndexError):
            filename = None
        (explicit if disposition == "attachment" else inline).append((payload, filename))
    return explicit + inline


class _TextOfHtml(HTMLParser):
    BLOCK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
