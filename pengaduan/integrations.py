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


def where(field: str) -> str:
    """Where the setting ``field`` comes from, as pydantic-settings reads it: the environment first, then the secrets
    folder's file, then the integrations folder's; never the value."""
    variable = f"PENGADUAN_{field.upper()}"
    if variable in os.environ:
        return f"{variable} (environment{', empty' if not os.environ[variable] else ''})"
    for folder in reversed(secrets_folders()):  # the secrets folder itself wins over its integrations folder
        path = folder / f"pengaduan_{field}"
        if path.is_file():
            return str(path)
    return "not set"


def _address(url: str | None) -> str:
    """A URL as it may be shown: scheme, host, port and path; no user, password or query (a gateway's key rides
    in some query strings)."""
    if not url:
        return "-"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _file(settings: Any, path: str | None) -> str:
    if not path:
        return "not set" + (" (the development CA)" if settings.environment != "production" else "")
    return path if Path(path).is_file() else f"{path} (MISSING: no such file here)"


def _credentials(settings: Any, *fields: str) -> str:
    return "; ".join(f"{field}: {where(field) if getattr(settings, field) else 'not set'}" for field in fields)


def _outbound(s: Any) -> list[Line]:
    email = Line("e-mail out (SMTP)", "off", "PENGADUAN_SMTP_HOST not set")
    if s.smtp_host:
        login = _credentials(s, "smtp_username", "smtp_password") if s.smtp_username else "no login"
        email = Line("e-mail out (SMTP)", "on", f"{s.smtp_host}:{s.smtp_port} {s.smtp_security}; {login}")
    if s.sms_provider == "http":
        auth = {"bearer": ("sms_token",), "header": ("sms_token",), "basic": ("sms_username", "sms_password")}
        sms = Line(
            "SMS out",
            "on",
            f"http gateway {_address(s.sms_url)}, auth {s.sms_auth}"
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
    def webhook(system: str, *fields: str) -> Line:
        given = all(getattr(s, f) is not None and getattr(s, f).get_secret_value() for f in fields)
        detail = _credentials(s, *fields) if given else f"{' and '.join(fields)} not set: answers 503"
        return Line(system, "on" if given else "off", detail)

    return [
        webhook("SMS in (POST /v1/channels/sms)", "sms_webhook_token"),
        webhook("e-mail in (POST /v1/channels/email)", "email_webhook_token"),
        webhook("WhatsApp in (/v1/channels/whatsapp)", "whatsapp_app_secret", "whatsapp_verify_token"),
    ]


def _letters(s: Any) -> list[Line]:
    tsa = Line("timestamp authority", "off", "PENGADUAN_TSA_URL not set: letters signed PAdES B-B")
    if s.tsa_url:
        login = f"; {_credentials(s, 'tsa_username', 'tsa_password')}" if s.tsa_username else ""
        tsa = Line(
            "timestamp authority",
            "on",
            f"{_address(s.tsa_url)}, PAdES {s.pades_level}; CA file {_file(s, s.tsa_ca_file)}{login}",
        )
    bsre = Line("BSrE (e-signature)", "off", "PENGADUAN_BSRE_URL not set: no kecamatan can sign through BSrE")
    if s.bsre_url:
        bsre = Line(
            "BSrE (e-signature)",
            "on",
            f"{_address(s.bsre_url)}; CA file {_file(s, s.bsre_ca_file)}; "
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

    lines: list[Line] = []
    ok = True
    for name, build, describe in _services():
        try:
            settings = build()
        except ValidationError as exc:
            ok = False
            lines.append(Line(f"{name}'s settings", "refused", "; ".join(errors(exc))))
            continue
        lines += describe(settings)
    return lines, ok


def render(lines: list[Line]) -> str:
    width = max(len(line.system) for line in lines)
    folders = ", ".join(str(f) for f in secrets_folders()) or "none here"
    head = f"outside systems as this process reads its settings (secret files from: {folders}); no value shown"
    return "\n".join([head, *(f"{line.system.ljust(width)}  {line.state:<7}  {line.detail}" for line in lines)])
