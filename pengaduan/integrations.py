"""``pengaduan integrations``: which outside systems this process's settings connect, and where each credential comes
from (the environment, a file in the secrets folder or its ``integrations`` folder), never its value.

What an operator asks after writing ``.env`` and ``secrets/integrations/`` (docs/adr/0033): did the processes read
them? ``docker compose exec worker-notify pengaduan integrations`` answers as that process reads its settings. Each
service's settings are built as the service builds them; one that refuses them (the LAPOR! bridge's URL without its
tokens) is said by the setting's name, as a process refusing to start says it, and the command exits 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.config import secrets_folders


@dataclass(frozen=True)
class Line:
    system: str
    state: str  # "on", "off", "refused"
    detail: str


def _environment(field: str) -> tuple[str, str] | None:
    """The variable that sets ``field`` and its value, matched as pydantic-settings matches it (case-insensitively)."""
    wanted = f"pengaduan_{field}"
    return next(((k, v) for k, v in os.environ.items() if k.lower() == wanted), None)


def _file_of(field: str) -> Path | None:
    """The secret file that sets ``field``, as pydantic-settings finds it: the secrets folder itself before its
    integrations folder, the name matched case-insensitively."""
    wanted = f"pengaduan_{field}"
    for folder in reversed(secrets_folders()):  # the secrets folder itself wins over its integrations folder
        try:
            found = next((p for p in folder.iterdir() if p.name.lower() == wanted and p.is_file()), None)
        except OSError:
            continue
        if found is not None:
            return found
    return None


def where(field: str) -> str:
    """Where the setting ``field`` comes from, as pydantic-settings reads it: the environment first, then the secrets
    folder's file, then the integrations folder's; never the value."""
    variable = _environment(field)
    if variable is not None:
        return f"{variable[0]} (environment)"
    found = _file_of(field)
    return str(found) if found is not None else "source not found"


def _given(settings: Any, field: str) -> bool:
    value = getattr(settings, field)
    return bool(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def _credential(settings: Any, field: str) -> str:
    if _given(settings, field):
        return f"{field}: {where(field)}"
    variable, found = _environment(field), _file_of(field)
    if variable is not None and found is not None:  # the .env trap: an empty line hides the file
        return f"{field}: EMPTY {variable[0]} in the environment hides {found}"
    return f"{field}: not set"


def _credentials(settings: Any, *fields: str) -> str:
    return "; ".join(_credential(settings, field) for field in fields)


def _address(url: str | None) -> str:
    """A URL as it may be shown: its scheme, host and port, nothing that may carry a secret (a user and password, a
    key in the path or the query); one that cannot be read is not shown at all."""
    if not url:
        return "-"
    if "@" in url:
        return "(a URL that carries credentials: not shown)"
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that cannot be read: not shown)"
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _file(path: str | None, unset: str) -> str:
    if not path:
        return unset
    try:
        return path if Path(path).is_file() else f"{path} (MISSING: no such file here)"
    except OSError:
        return f"{path} (cannot be read by this process)"


def _outbound(s: Any) -> list[Line]:
    from services.notify.adapters.channels.registry import build_channels

    try:
        build_channels(s)  # as the notify worker builds them at start: a channel chosen but incomplete stops it
    except ValueError as exc:
        return [Line("notify's channels", "refused", str(exc))]
    email = Line("e-mail out (SMTP)", "off", "PENGADUAN_SMTP_HOST not set")
    if s.smtp_host:
        login = _credentials(s, "smtp_username", "smtp_password") if s.smtp_username else "no login"
        email = Line("e-mail out (SMTP)", "on", f"{s.smtp_host}:{s.smtp_port} {s.smtp_security}; {login}")
    if s.sms_provider == "http":
        auth = {"bearer": ("sms_token",), "header": ("sms_token",), "basic": ("sms_username", "sms_password")}
        sms = Line(
            "SMS out",
            "on",
            f"http gateway {_address(s.sms_url)} (path and query not shown), auth {s.sms_auth}"
            + (f"; {_credentials(s, *auth[s.sms_auth])}" if s.sms_auth in auth else ""),
        )
    elif s.sms_provider == "zenziva":
        sms = Line("SMS out", "on", f"zenziva; {_credentials(s, 'zenziva_userkey', 'zenziva_passkey')}")
    else:
        sms = Line("SMS out", "off", "PENGADUAN_SMS_PROVIDER=none")
    whatsapp = Line("WhatsApp out", "off", "needs PENGADUAN_WHATSAPP_TOKEN and _PHONE_NUMBER_ID")
    if s.whatsapp_token and s.whatsapp_phone_number_id:
        whatsapp = Line("WhatsApp out", "on", _credentials(s, "whatsapp_token", "whatsapp_phone_number_id"))
    return [email, sms, whatsapp]


def _inbound(s: Any) -> list[Line]:
    def webhook(system: str, field: str, off: str = "answers 503") -> Line:
        given = _given(s, field)
        return Line(system, "on" if given else "off", _credential(s, field) + ("" if given else f": {off}"))

    imap = Line("e-mail in (IMAP mailbox)", "off", "PENGADUAN_IMAP_HOST not set")
    if s.imap_host:
        security = "TLS" if s.imap_ssl else "plain"
        imap = Line(
            "e-mail in (IMAP mailbox)",
            "on",
            f"{s.imap_host}:{s.imap_port} {security}, folder {s.imap_folder}; "
            + _credentials(s, "imap_username", "imap_password"),
        )
    return [
        webhook("SMS in (POST /v1/channels/sms)", "sms_webhook_token"),
        webhook("e-mail in (POST /v1/channels/email)", "email_webhook_token"),
        imap,
        webhook("WhatsApp in (POST /v1/channels/whatsapp)", "whatsapp_app_secret"),
        webhook("WhatsApp handshake (GET)", "whatsapp_verify_token"),
        webhook("LAPOR! hand-over (POST /v1/channels/lapor)", "lapor_webhook_token"),
    ]


def _letters(s: Any) -> list[Line]:
    tsa = Line("timestamp authority", "off", "PENGADUAN_TSA_URL not set: letters signed PAdES B-B")
    if s.tsa_url:
        tsa_unset = "not set" + (" (the development CA)" if s.environment != "production" else "")
        login = f"; {_credentials(s, 'tsa_username', 'tsa_password')}" if s.tsa_username else ""
        tsa = Line(
            "timestamp authority",
            "on",
            f"{_address(s.tsa_url)}, PAdES {s.pades_level}; CA file {_file(s.tsa_ca_file, tsa_unset)}{login}",
        )
    bsre = Line("BSrE (e-signature)", "off", "PENGADUAN_BSRE_URL not set: no kecamatan can sign through BSrE")
    if s.bsre_url:
        bsre = Line(
            "BSrE (e-signature)",
            "on",
            f"{_address(s.bsre_url)}; CA file {_file(s.bsre_ca_file, 'not set (no root trusted for what BSrE signs)')}; "
            + _credentials(s, "bsre_username", "bsre_password"),
        )
    return [tsa, bsre]


def _lapor(s: Any) -> list[Line]:
    if not s.lapor_enabled:
        return [Line("SP4N-LAPOR! bridge", "off", "PENGADUAN_LAPOR_URL not set")]
    return [
        Line(
            "SP4N-LAPOR! bridge",
            "on",
            f"{_address(s.lapor_url)}, {len(s.lapor_instansi)} kecamatan mapped, intake at "
            f"{_address(s.lapor_intake_url)}; " + _credentials(s, "lapor_token", "lapor_webhook_token"),
        )
    ]


def _services() -> list[tuple[str, Callable[[], Any], Callable[[Any], list[Line]]]]:
    from services.intake.config import IntakeSettings
    from services.lapor.config import LaporSettings
    from services.letters.config import LettersSettings
    from services.notify.config import NotifySettings

    return [
        ("notify", NotifySettings, _outbound),
        ("intake", IntakeSettings, _inbound),
        ("letters", LettersSettings, _letters),
        ("lapor", LaporSettings, _lapor),
    ]


def report(errors: Callable[[Exception], list[str]]) -> tuple[list[Line], bool]:
    """Every outside system's line, and whether every service took its settings (``errors`` says why one did not)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    lines: list[Line] = []
    for name, build, describe in _services():
        try:
            settings = build()
        except ValidationError as exc:
            lines.append(Line(f"{name}'s settings", "refused", "; ".join(errors(exc))))
            continue
        except SettingsError as exc:  # a value that is not what its setting parses (JSON, a number): no value shown
            lines.append(Line(f"{name}'s settings", "refused", str(exc)))
            continue
        lines += describe(settings)
    return lines, all(line.state != "refused" for line in lines)


def render(lines: list[Line]) -> str:
    width = max(len(line.system) for line in lines)
    folders = ", ".join(str(f) for f in secrets_folders()) or "none here"
    head = f"outside systems as this process reads its settings (secret files from: {folders}); no value shown"
    return "\n".join([head, *(f"{line.system.ljust(width)}  {line.state:<7}  {line.detail}" for line in lines)])
