"""The kecamatan directory: which kecamatan this deployment serves, and their letterheads.

Reference data every service reads (schema ``tenancy``); written by seeding (``pengaduan seed-demo``)
and, later, by administration. A kecamatan is named by a short slug in URLs and bodies; its official
Kemendagri code is an attribute.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert

from shared.contracts import categories as category_lists
from shared.contracts.numbering import LetterNumbering, validate_unit_code
from shared.contracts.organisation import ATAS_NAMA_OFFICES

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

# the kabupaten (migration 0016): their name and the settings their decrees set for every kecamatan
kabupaten_table = Table(
    "kabupaten",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("settings", JSONB, nullable=False, server_default="{}"),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

DEFAULT_TIME_ZONE = "Asia/Jakarta"
# Indonesia's three time zones: what a kabupaten's ``time_zone`` may be
TIME_ZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
CALENDAR_KEYS = ("office_hours", "extra_holidays", "working_days")


@dataclass(frozen=True)
class Kecamatan:
    slug: str
    code: str
    name: str
    kabupaten_slug: str
    kabupaten_name: str
    letterhead: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    settings: dict[str, Any] = field(default_factory=dict)  # sop_overrides, office_hours, extra_holidays, ...
    # the kabupaten's own (time_zone, office_hours, extra_holidays, working_days): the kecamatan's settings
    # override its office hours and add to its days
    kabupaten_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def time_zone(self) -> ZoneInfo:
        """The kabupaten's time zone: every date people see or filter by, the year numbers run in."""
        return ZoneInfo(self.kabupaten_settings.get("time_zone") or DEFAULT_TIME_ZONE)

    @property
    def time_zone_label(self) -> str:
        return TIME_ZONES.get(str(self.time_zone), str(self.time_zone))

    def calendar_key(self) -> str:
        """What the working calendar is built from: equal keys, equal calendars (for the calendars' caches)."""
        own = {k: self.settings.get(k) for k in CALENDAR_KEYS}
        kabupaten = {k: self.kabupaten_settings.get(k) for k in (*CALENDAR_KEYS, "time_zone")}
        return json.dumps([own, kabupaten], sort_keys=True, default=str)

    def calendar(self):
        """This kecamatan's working-day calendar: its office hours, else its kabupaten's, else the default, in
        the kabupaten's time zone, with the kabupaten's dated schedules unless the kecamatan names its own; the
        kabupaten's extra non-working days and the kecamatan's own; the days a decree made working days again (a
        cuti bersama moved) of both."""
        from shared.calendar import OfficeHours, WorkingCalendar

        kabupaten = self.kabupaten_settings.get("office_hours") or {}
        config = self.settings.get("office_hours") or kabupaten
        if "schedules" not in config and "schedules" in kabupaten:
            # a kecamatan's own week still follows the kabupaten's decreed periods (Ramadan hours), unless it
            # names periods of its own ("schedules": [] for none)
            config = {**config, "schedules": kabupaten["schedules"]}
        config = {**config, "tz": str(self.time_zone)}  # one zone for a kabupaten (validated: office hours name none)
        extra = {
            date.fromisoformat(d): name
            for source in (self.kabupaten_settings, self.settings)
            for d, name in (source.get("extra_holidays") or {}).items()
        }
        working = [
            date.fromisoformat(d)
            for source in (self.kabupaten_settings, self.settings)
            for d in source.get("working_days") or []
        ]
        return WorkingCalendar(OfficeHours.from_config(config), extra_holidays=extra, working_overrides=working)

    @property
    def sop_overrides(self) -> dict | None:
        return self.settings.get("sop_overrides")

    @property
    def categories(self) -> tuple[category_lists.Category, ...]:
        """Its kabupaten's complaint categories (``categories`` in the kabupaten's settings, else the default list;
        shared/contracts/categories.py)."""
        return category_lists.categories_of(self.kabupaten_settings)

    @property
    def unit_pengolah(self) -> str:
        """The kecamatan's unit code in its letter numbers (kode unit pengolah, ``{unit}``): its setting
        ``unit_pengolah``, else its Kemendagri code."""
        return self.settings.get("unit_pengolah") or self.code

    def letter_numbering(self) -> LetterNumbering:
        """How its kabupaten numbers letters (its setting ``letter_number``, else tata naskah dinas' pattern with
        the defaults of ``shared.contracts.numbering``)."""
        return LetterNumbering.from_settings(self.kabupaten_settings.get("letter_number"))


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


# Kabupaten Pamekasan's working hours as reported for 2026 (terukur.id, 17 February 2026, on the Bupati's
# circular 800/11/432.403/2026): 07:00-15:00 on ordinary days, 08:00-15:00 in Ramadan with a break 12:00-12:30,
# Friday 08:00-15:30 with 11:30-12:30. The ordinary days' breaks and Friday are not in the report: taken so
# that the week is Perpres 21/2023's 37.5 hours (and Ramadan's 32.5). A kabupaten confirms its own decree.
PAMEKASAN_SETTINGS: dict[str, Any] = {
    "time_zone": "Asia/Jakarta",
    "office_hours": {
        "days": {d: ["07:00", "15:00"] for d in ("senin", "selasa", "rabu", "kamis")} | {"jumat": ["07:00", "15:30"]},
        "breaks": {d: [["12:00", "12:30"]] for d in ("senin", "selasa", "rabu", "kamis")}
        | {"jumat": [["11:30", "12:30"]]},
        "schedules": [
            {
                "name": "Ramadan 1447 H",
                "from": "2026-02-18",
                "to": "2026-03-19",
                "days": {d: ["08:00", "15:00"] for d in ("senin", "selasa", "rabu", "kamis")}
                | {"jumat": ["08:00", "15:30"]},
                "breaks": {d: [["12:00", "12:30"]] for d in ("senin", "selasa", "rabu", "kamis")}
                | {"jumat": [["11:30", "12:30"]]},
            }
        ],
    },
    # Letter numbers (shared.contracts.numbering): tata naskah dinas' pattern; the classification codes a Camat may
    # choose, from Permendagri 83/2022's list for pemerintah daerah: 000.8.3.4 Pelayanan Publik (the default for the
    # response and the surat pelimpahan alike), and for complaints about a desa's administration or its funds the
    # codes of Pemerintahan Desa dan Kelurahan. A demo's choice: a kabupaten lists the codes its Perbup uses.
    "letter_number": {
        "pattern": "{klasifikasi}/{urut}/{unit}/{tahun}",
        "klasifikasi": {
            "000.8.3.4": "Pelayanan Publik",
            "400.10.2.2": "Administrasi Pemerintahan Desa dan Kelurahan",
            "400.10.2.4": "Fasilitasi Pengelolaan Keuangan dan Aset Desa",
        },
        "default": {"response_letter": "000.8.3.4", "referral_letter": "000.8.3.4"},
    },
}


def demo_kecamatan() -> list[Kecamatan]:
    result = []
    for slug, code, name in _PAMEKASAN:
        letterhead: dict[str, Any] = {
            "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
            "kecamatan": f"KECAMATAN {name.upper()}",
            "address": f"Kecamatan {name}, Kabupaten Pamekasan",
            "city": "Pamekasan",
        }
        settings: dict[str, Any] = {}
        if slug == "pegantenan":
            letterhead.update(
                address="Jalan Raya Pegantenan",  # the kop prints "Kode Pos 69361" after the address and telephone
                postal_code="69361",
                phone="(0324) 7710982",
                mobile="087750014595",
                city="Pegantenan",
            )
            # its kode unit pengolah in letter numbers: the example of issue #16, not a code we could confirm in
            # Pamekasan's rules (its Bupati's circular 800/11/432.403/2026 suggests 432.4xx may be Setda's units). The
            # other demo kecamatan have none and number with their Kemendagri code; a kabupaten sets each
            # kecamatan's own (`pengaduan kecamatan configure`, "unit_pengolah").
            settings["unit_pengolah"] = "432.407"
        result.append(Kecamatan(slug, code, name, "pamekasan", "Kabupaten Pamekasan", letterhead, settings=settings))
    return result


# A second kabupaten beside Pamekasan for the demo (issue #19 item 4): one deployment serving two kabupaten, each
# watching only its own kecamatan, printing its own letterhead and numbering its own letters. Kabupaten Sumenep
# (Kemendagri 35.29), three of its 27 kecamatan; the codes as we read Kemendagri's list of regions (Kepmendagri
# 100.1.1-6117/2022): a kabupaten confirms its own.
_SUMENEP = [
    ("kalianget", "35.29.06", "Kalianget"),
    ("kota-sumenep", "35.29.07", "Kota Sumenep"),
    ("saronggi", "35.29.03", "Saronggi"),
]

# Sumenep's settings for the demo: the national default of office hours (it has not decreed its own here), its own
# list of classification codes (only Pelayanan Publik) so that its letters' numbers follow its rules, not Pamekasan's.
SUMENEP_SETTINGS: dict[str, Any] = {
    "time_zone": "Asia/Jakarta",
    "letter_number": {
        "pattern": "{klasifikasi}/{urut}/{unit}/{tahun}",
        "klasifikasi": {"000.8.3.4": "Pelayanan Publik"},
        "default": {"response_letter": "000.8.3.4", "referral_letter": "000.8.3.4"},
    },
}


def demo_second_kabupaten() -> list[Kecamatan]:
    """Kabupaten Sumenep's three demo kecamatan, with the letterhead of Pemerintah Kabupaten Sumenep."""
    return [
        Kecamatan(
            slug,
            code,
            name,
            "sumenep",
            "Kabupaten Sumenep",
            {
                "pemerintah": "PEMERINTAH KABUPATEN SUMENEP",
                "kecamatan": f"KECAMATAN {name.upper()}",
                "address": f"Kecamatan {name}, Kabupaten Sumenep",
                "city": "Sumenep",
            },
        )
        for slug, code, name in _SUMENEP
    ]


def upsert_kecamatan(engine: Engine, items: list[Kecamatan]) -> None:
    """Add the kecamatan, or update their names, codes and letterheads. Their ``settings`` (checked as
    ``configure_kecamatan`` checks them) are stored for a kecamatan added now only: a kecamatan already served keeps
    the settings it was configured with (seeding the demo again does not undo `pengaduan kecamatan configure`)."""
    rows = [
        {
            "slug": k.slug,
            "code": k.code,
            "name": k.name,
            "kabupaten_slug": k.kabupaten_slug,
            "kabupaten_name": k.kabupaten_name,
            "letterhead": k.letterhead,
            "active": k.active,
            "settings": validate_settings(k.settings),
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
    kabupaten = insert(kabupaten_table).values(
        [{"slug": slug, "name": name} for slug, name in sorted({(k.kabupaten_slug, k.kabupaten_name) for k in items})]
    )
    kabupaten = kabupaten.on_conflict_do_update(index_elements=["slug"], set_={"name": kabupaten.excluded.name})
    with engine.begin() as conn:
        conn.execute(kabupaten)
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

    def invalidate(self) -> None:
        """Read the table again at the next lookup (after a change this process made, or a test's)."""
        self._loaded_at = float("-inf")

    def get(self, slug: str) -> Kecamatan | None:
        if time.monotonic() - self._loaded_at > self._ttl or slug not in self._by_slug:
            self._reload_if_stale(force=slug not in self._by_slug)
        found = self._by_slug.get(slug)
        return found if found and found.active else None

    def active(self) -> list[Kecamatan]:
        """Every active kecamatan, by name (the cache's age as for ``get``)."""
        self._reload_if_stale(force=not self._by_slug)
        return sorted((k for k in self._by_slug.values() if k.active), key=lambda k: (k.kabupaten_name, k.name))

    def on_record(self, slug: str) -> Kecamatan | None:
        """The kecamatan by slug, active or not (``get`` answers only active ones): whose kabupaten a complaint of a
        kecamatan no longer served belongs to, for the kabupaten's readers and its data-protection officer."""
        if slug not in self._by_slug:
            self._reload_if_stale(force=True)
        return self._by_slug.get(slug)

    def every(self) -> list[Kecamatan]:
        """Every kecamatan on record, active or not (one no longer served still has complaints whose personal data
        the retention job must erase in time), by name."""
        self._reload_if_stale(force=not self._by_slug)
        return sorted(self._by_slug.values(), key=lambda k: (k.kabupaten_name, k.name))

    def _reload_if_stale(self, force: bool) -> None:
        now = time.monotonic()
        # a miss reloads at most once a second, so unknown slugs cannot hammer the database
        if not force and now - self._loaded_at <= self._ttl:
            return
        if force and now - self._loaded_at < 1.0:
            return
        query = select(kecamatan_table, kabupaten_table.c.settings.label("kabupaten_settings")).outerjoin(
            kabupaten_table, kabupaten_table.c.slug == kecamatan_table.c.kabupaten_slug
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        self._by_slug = {
            r["slug"]: Kecamatan(**{**r, "kabupaten_settings": r["kabupaten_settings"] or {}}) for r in rows
        }
        self._loaded_at = now


CHANNEL_KEYS = ("sms_numbers", "whatsapp_phone_number_ids", "emails")


def validate_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A kecamatan's own settings (its SK, its inbound channels), checked before they are stored; returns
    them normalised (channel numbers in E.164, e-mail addresses in lower case). Raises ValueError."""
    from shared.contracts import sop

    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    known = (
        "sop_overrides",
        "office_hours",
        "extra_holidays",
        "working_days",
        "channels",
        "sign_atas_nama",
        "unit_pengolah",
        "signature_service",
        "anonymous_complaints",
    )
    unknown = set(settings) - set(known)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}; known: {', '.join(known)}")
    if "unit_pengolah" in settings:  # its kode unit pengolah in letter numbers (shared.contracts.numbering)
        validate_unit_code(settings["unit_pengolah"])
    if settings.get("signature_service") not in (None, "local", "bsre"):  # docs/adr/0016
        raise ValueError('signature_service: "bsre" (the national e-signature service) or "local" (own certificate)')
    if not isinstance(settings.get("anonymous_complaints", False), bool):  # issue #17 item 5; off unless set
        raise ValueError("anonymous_complaints: true (accept complaints without identity) or false")
    if settings.get("sign_atas_nama") not in (None, *ATAS_NAMA_OFFICES):
        raise ValueError('sign_atas_nama: only "sekcam" may sign a.n. (atas nama) the Camat, or leave it out')
    if settings.get("sop_overrides"):
        sop.with_overrides(sop.DEFAULT, settings["sop_overrides"])
    _validate_calendar(settings)
    result = dict(settings)
    if "channels" in settings:
        result["channels"] = _validated_channels(settings["channels"])
    return result


def _validate_calendar(settings: dict[str, Any]) -> None:
    """office_hours, extra_holidays ({"YYYY-MM-DD": "why"}) and working_days (["YYYY-MM-DD"]), if set."""
    from shared.calendar import OfficeHours

    if settings.get("office_hours"):
        OfficeHours.from_config(settings["office_hours"])
        if isinstance(settings["office_hours"], dict) and "tz" in settings["office_hours"]:
            raise ValueError(
                "office_hours: no 'tz' here: the time zone is the kabupaten's (its settings' time_zone, "
                "`pengaduan kabupaten configure`), so dates, years and deadlines agree"
            )
    extra = settings.get("extra_holidays") or {}
    if not isinstance(extra, dict):
        raise ValueError('extra_holidays must map dates to a reason: {"2026-11-03": "Hari Jadi Kabupaten"}')
    working = settings.get("working_days") or []
    if not isinstance(working, list):
        raise ValueError('working_days must be a list of dates: ["2026-12-26"]')
    for key, days in (("extra_holidays", list(extra)), ("working_days", working)):
        for day in days:
            try:
                date.fromisoformat(str(day))
            except ValueError:
                raise ValueError(f"{key}: {day!r} is not a date YYYY-MM-DD") from None


def validate_kabupaten_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A kabupaten's settings, checked before they are stored: ``time_zone`` (Asia/Jakarta, Asia/Makassar or
    Asia/Jayapura), ``office_hours`` (as ``shared.calendar.OfficeHours.from_config`` reads them),
    ``extra_holidays`` and ``working_days`` (a decree's extra days off, and days it made working days again),
    ``letter_number`` (its pattern, classification codes and defaults: ``shared.contracts.numbering``),
    ``retention_years`` (personal data kept that many years after a complaint closes; docs/adr/0017),
    ``categories`` (its complaint categories, ``shared.contracts.categories.parse``), ``feedback_window_working_days``
    (how long after a closing a complainant's "not resolved" reopens the complaint; later, a keberatan) and
    ``objection_working_days`` (the Camat's time to answer a keberatan; docs/adr/0020).
    Raises ValueError."""
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    known = (
        "time_zone",
        "office_hours",
        "extra_holidays",
        "working_days",
        "letter_number",
        "retention_years",
        "categories",
        "feedback_window_working_days",
        "objection_working_days",
    )
    unknown = set(settings) - set(known)
    if unknown:
        raise ValueError(f"unknown kabupaten settings: {sorted(unknown)}; known: {', '.join(known)}")
    zone = settings.get("time_zone")
    if zone is not None and zone not in TIME_ZONES:
        raise ValueError(
            f"time_zone: {zone!r} is not an Indonesian time zone; use "
            + ", ".join(f"{z} ({label})" for z, label in TIME_ZONES.items())
        )
    _validate_calendar(settings)
    if "letter_number" in settings:
        LetterNumbering.from_settings(settings["letter_number"])
    years = settings.get("retention_years")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 100):
        raise ValueError(
            "retention_years: how many years after a complaint closes its complainant's personal data is kept "
            "(the kabupaten's Jadwal Retensi Arsip for complaint records), a whole number from 1 to 100"
        )
    if "categories" in settings:
        category_lists.parse(settings["categories"])
    for key in ("feedback_window_working_days", "objection_working_days"):
        days = settings.get(key)
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60):
            raise ValueError(f"{key}: a number of working days, a whole number from 1 to 60")
    return dict(settings)


def configure_kabupaten(engine: Engine, slug: str, settings: dict[str, Any]) -> None:
    """Store a kabupaten's settings. New deadlines follow them; the directories' caches pick them up within
    their time to live."""
    from sqlalchemy import update

    settings = validate_kabupaten_settings(settings)
    with engine.begin() as conn:
        if not conn.execute(
            update(kabupaten_table)
            .where(kabupaten_table.c.slug == slug)
            .values(settings=settings, changed_at=func.now())
        ).rowcount:
            raise ValueError(f"unknown kabupaten {slug!r}")


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
