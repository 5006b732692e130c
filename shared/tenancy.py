"""The kecamatan directory: which kecamatan this deployment serves, and their letterheads.

Reference data every service reads (schema ``tenancy``); written by seeding (``pengaduan seed-demo``)
and, later, by administration. A kecamatan is named by a short slug in URLs and bodies; its official
Kemendagri code is an attribute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Column, Engine, MetaData, Table, Text, select
from sqlalchemy.dialects.postgresql import JSONB, insert

metadata = MetaData(schema="tenancy")

kecamatan_table = Table(
    "kecamatan",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("kabupaten_slug", Text, nullable=False),
    Column("kabupaten_name", Text, nullable=False),
    Column("letterhead", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("settings", JSONB, nullable=False, server_default="{}"),
)


@dataclass(frozen=True)
class Kecamatan:
    slug: str
    code: str
    name: str
    kabupaten_slug: str
    kabupaten_name: str
    letterhead: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    settings: dict[str, Any] = field(default_factory=dict)  # sop_overrides, office_hours, extra_holidays

    def calendar(self):
        """This kecamatan's working-day calendar: its office hours and its own extra holidays."""
        from datetime import date

        from shared.calendar import OfficeHours, WorkingCalendar

        hours = OfficeHours.from_config(self.settings["office_hours"]) if self.settings.get("office_hours") else None
        extra = {date.fromisoformat(d): name for d, name in (self.settings.get("extra_holidays") or {}).items()}
        return WorkingCalendar(hours, extra_holidays=extra)

    @property
    def sop_overrides(self) -> dict | None:
        return self.settings.get("sop_overrides")


# Kabupaten Pamekasan (Kemendagri 35.28) and its 13 kecamatan. Pegantenan's letterhead is the SOP's.
_PAMEKASAN = [
    ("tlanakan", "35.28.01", "Tlanakan"),
    ("pademawu", "35.28.02", "Pademawu"),
    ("galis", "35.28.03", "Galis"),
    ("pamekasan", "35.28.04", "Pamekasan"),
    ("proppo", "35.28.05", "Proppo"),
    ("palengaan", "35.28.06", "Palengaan"),
    ("pegantenan", "35.28.07", "Pegantenan"),
    ("larangan", "35.28.08", "Larangan"),
    ("pakong", "35.28.09", "Pakong"),
    ("waru", "35.28.10", "Waru"),
    ("batumarmar", "35.28.11", "Batumarmar"),
    ("kadur", "35.28.12", "Kadur"),
    ("pasean", "35.28.13", "Pasean"),
]


def demo_kecamatan() -> list[Kecamatan]:
    result = []
    for slug, code, name in _PAMEKASAN:
        letterhead: dict[str, Any] = {
            "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
            "kecamatan": f"KECAMATAN {name.upper()}",
            "address": f"Kecamatan {name}, Kabupaten Pamekasan",
            "city": "Pamekasan",
        }
        if slug == "pegantenan":
            letterhead.update(
                address="Jalan Raya Pegantenan 69361",
                postal_code="69361",
                phone="(0324) 7710982",
                mobile="087750014595",
                city="Pegantenan",
            )
        result.append(Kecamatan(slug, code, name, "pamekasan", "Kabupaten Pamekasan", letterhead))
    return result


def upsert_kecamatan(engine: Engine, items: list[Kecamatan]) -> None:
    rows = [
        {
            "slug": k.slug,
            "code": k.code,
            "name": k.name,
            "kabupaten_slug": k.kabupaten_slug,
            "kabupaten_name": k.kabupaten_name,
            "letterhead": k.letterhead,
            "active": k.active,
        }
        for k in items
    ]
    stmt = insert(kecamatan_table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["slug"],
        set_={
            c: stmt.excluded[c] for c in ("code", "name", "kabupaten_slug", "kabupaten_name", "letterhead", "active")
        },
    )
    with engine.begin() as conn:
        conn.execute(stmt)


class UnknownKecamatan(Exception):
    """No active kecamatan served here by that slug, or none claims the number or address an inbound
    message was sent to (and no default is set)."""


class KecamatanDirectory:
    """Looks kecamatan up by slug, caching the small table for ``ttl`` seconds per process."""

    def __init__(self, engine: Engine, ttl: float = 30.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._loaded_at = float("-inf")
        self._by_slug: dict[str, Kecamatan] = {}

    def get(self, slug: str) -> Kecamatan | None:
        if time.monotonic() - self._loaded_at > self._ttl or slug not in self._by_slug:
            self._reload_if_stale(force=slug not in self._by_slug)
        found = self._by_slug.get(slug)
        return found if found and found.active else None

    def active(self) -> list[Kecamatan]:
        """Every active kecamatan, by name (the cache's age as for ``get``)."""
        self._reload_if_stale(force=not self._by_slug)
        return sorted((k for k in self._by_slug.values() if k.active), key=lambda k: (k.kabupaten_name, k.name))

    def _reload_if_stale(self, force: bool) -> None:
        now = time.monotonic()
        # a miss reloads at most once a second, so unknown slugs cannot hammer the database
        if not force and now - self._loaded_at <= self._ttl:
            return
        if force and now - self._loaded_at < 1.0:
            return
        with self._engine.connect() as conn:
            rows = conn.execute(select(kecamatan_table)).mappings().all()
        self._by_slug = {r["slug"]: Kecamatan(**r) for r in rows}
        self._loaded_at = now


CHANNEL_KEYS = ("sms_numbers", "whatsapp_phone_number_ids", "emails")


def validate_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A kecamatan's own settings (its SK, its inbound channels), checked before they are stored; returns
    them normalised (channel numbers in E.164, e-mail addresses in lower case). Raises ValueError."""
    from datetime import date

    from shared.calendar import OfficeHours
    from shared.contracts import sop

    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    known = ("sop_overrides", "office_hours", "extra_holidays", "channels")
    unknown = set(settings) - set(known)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}; known: {', '.join(known)}")
    if settings.get("sop_overrides"):
        sop.with_overrides(sop.DEFAULT, settings["sop_overrides"])
    if settings.get("office_hours"):
        OfficeHours.from_config(settings["office_hours"])
    for day in settings.get("extra_holidays") or {}:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"extra_holidays: {day!r} is not a date YYYY-MM-DD") from None
    result = dict(settings)
    if "channels" in settings:
        result["channels"] = _validated_channels(settings["channels"])
    return result


def _validated_channels(channels: Any) -> dict[str, list[str]]:
    """``{"sms_numbers": ["+62..."], "whatsapp_phone_number_ids": ["..."], "emails": ["pengaduan@..."]}``:
    where inbound messages for this kecamatan arrive (intake routes SMS by the number written to, WhatsApp
    by the Cloud API phone number id, e-mail by the address written to)."""
    import phonenumbers
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(channels, dict):
        raise ValueError(
            'channels must be an object: {"sms_numbers": [...], "whatsapp_phone_number_ids": [...], "emails": [...]}'
        )
    unknown = set(channels) - set(CHANNEL_KEYS)
    if unknown:
        raise ValueError(f"channels: unknown keys {sorted(unknown)}; known: {', '.join(CHANNEL_KEYS)}")
    result: dict[str, list[str]] = {}
    for key in CHANNEL_KEYS:
        values = channels.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"channels.{key} must be a list of strings")
        normalised: list[str] = []
        for value in values:
            if key == "sms_numbers":
                try:
                    number = phonenumbers.parse(value, "ID")
                except phonenumbers.NumberParseException:
                    number = None
                if number is None or not phonenumbers.is_valid_number(number):
                    raise ValueError(f"channels.sms_numbers: {value!r} is not a valid phone number")
                item = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            elif key == "whatsapp_phone_number_ids":
                item = value.strip()
                if not item.isascii() or not item.isdigit() or len(item) > 32:
                    raise ValueError(f"channels.whatsapp_phone_number_ids: {value!r} is not a phone number id (digits)")
            else:
                try:
                    item = validate_email(value.strip(), check_deliverability=False).normalized.lower()
                except EmailNotValidError:
                    raise ValueError(f"channels.emails: {value!r} is not a valid e-mail address") from None
            if item not in normalised:
                normalised.append(item)
        result[key] = normalised
    return result


def configure_kecamatan(engine: Engine, slug: str, settings: dict[str, Any]) -> None:
    """Store a kecamatan's settings. New complaints follow them; open ones keep the SOP they started with."""
    from sqlalchemy import update

    settings = validate_settings(settings)
    with engine.begin() as conn:
        if not conn.execute(
            update(kecamatan_table).where(kecamatan_table.c.slug == slug).values(settings=settings)
        ).rowcount:
            raise ValueError(f"unknown kecamatan {slug!r}")
