"""A service request posted to Open311 GeoReport v2 (``POST /open311/v2/requests``, form fields), read and
checked: what becomes a complaint on channel ``open311``.

The catalogue (each kabupaten's category list), the category's name written at the start of the subject and the
spec's error shape are shared with the dashboard, which answers the searches: ``shared/contracts/open311.py``.

``service_code`` is checked against the category list of the kecamatan's kabupaten (``listed``), as ``category`` is
on ``POST /v1/complaints`` (``submit_complaint`` checks it again, against the list as it is when it writes): a code
no list served here has is "tidak dikenal", one that another kabupaten's list has is "tidak ada dalam daftar
kategori kecamatan ini". When the kecamatan is not known here (no ``jurisdiction_id``, or one not on record: 404
later), the code is checked against every list served (``served``).

A request that names nobody (no ``first_name``, ``last_name``, ``email`` or ``phone``) is an anonymous report
(``NewRequest.anonymous``): accepted only where the kecamatan accepts anonymous complaints (its setting
``anonymous_complaints``, checked by ``submit_complaint`` as for ``POST /v1/complaints``). One that gives a name
but no contact is refused: the response letter could reach nobody.

Pure: no I/O. Problems are ``Problems([Problem(400, description)])``, the description in Bahasa Indonesia.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.intake.domain.inbound import clean_text
from shared import identity
from shared.contracts.categories import Category, find
from shared.contracts.open311 import Problem, Problems, named, subject_for
from shared.text import strip_format_characters

CHANNEL = "open311"
FALLBACK_NAME = "Pengadu via Open311"
NOT_LISTED = "tidak ada dalam daftar kategori kecamatan ini."  # a code of another kabupaten's list
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 4000  # GeoReport: description up to 4000 characters


@dataclass(frozen=True)
class NewRequest:
    kecamatan: str
    category: Category  # the service: a category of the kecamatan's kabupaten's list
    name: str
    email: str | None
    phone: str | None
    subject: str
    description: str  # the complainant's text, then the location and the media link, for staff
    anonymous: bool = False  # nobody named and no contact (then name, email and phone are empty)


def _text(form: Mapping[str, str], key: str) -> str:
    return strip_format_characters(clean_text(form.get(key) or ""))


def _coordinate(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if low <= value <= high and value == value else None


def jurisdiction_of(form: Mapping[str, str]) -> str:
    """The kecamatan's slug as posted (``jurisdiction_id``), normalised; empty when none or not slug-shaped."""
    kecamatan = _text(form, "jurisdiction_id").lower()
    return kecamatan if re.fullmatch(r"[a-z0-9-]{2,40}", kecamatan) else ""


def read_new_request(form: Mapping[str, str], listed: Sequence[Category] | None, served: Collection[str]) -> NewRequest:
    """A service request as posted (form fields of GeoReport v2); raises ``Problems`` (400). ``listed``: the
    category list of the kecamatan's kabupaten, None when the kecamatan is not known here; ``served``: every code
    of the lists served here."""
    problems: list[Problem] = []
    kecamatan = _text(form, "jurisdiction_id").lower()
    if not kecamatan:
        problems.append(Problem(400, "jurisdiction_id wajib diisi: slug kecamatan tujuan (misalnya pegantenan)."))
    elif not re.fullmatch(r"[a-z0-9-]{2,40}", kecamatan):
        problems.append(Problem(400, "jurisdiction_id tidak sah: gunakan slug kecamatan (misalnya pegantenan)."))
    code = _text(form, "service_code")
    category = find(listed, code) if listed is not None else None
    if not code:
        problems.append(Problem(400, "service_code wajib diisi (lihat daftar di services.json)."))
    elif code not in served and category is None:
        where = f"services.json?jurisdiction_id={kecamatan}" if listed is not None else "services.json"
        problems.append(Problem(400, f"service_code {code[:40]!r} tidak dikenal (lihat daftar di {where})."))
    elif listed is not None and category is None:
        problems.append(Problem(400, f"service_code {code[:40]!r} {NOT_LISTED}"))
    description = _text(form, "description")
    if len(description) < DESCRIPTION_MIN:
        problems.append(Problem(400, f"description wajib diisi, paling sedikit {DESCRIPTION_MIN} karakter."))
    elif len(description) > DESCRIPTION_MAX:
        problems.append(Problem(400, f"description paling banyak {DESCRIPTION_MAX} karakter."))
    name = " ".join(p for p in (_text(form, "first_name"), _text(form, "last_name")) if p)
    name = re.sub(r"\s+", " ", name)
    if len(name) > 100:
        problems.append(Problem(400, "first_name dan last_name bersama-sama paling banyak 100 karakter."))
    email = phone = None
    if _text(form, "email"):
        try:
            email = identity.normalize_email(_text(form, "email"))
        except identity.InvalidIdentity as exc:
            problems.append(Problem(400, f"email: {exc.message}"))
    if _text(form, "phone"):
        try:
            phone = identity.normalize_phone(_text(form, "phone"))
        except identity.InvalidIdentity as exc:
            problems.append(Problem(400, f"phone: {exc.message}"))
    anonymous = not (name or _text(form, "email") or _text(form, "phone"))
    if not anonymous and not _text(form, "email") and not _text(form, "phone"):
        problems.append(
            Problem(
                400,
                "Isi email atau phone agar tanggapan dapat dikirim kepada pengadu (atau kosongkan juga first_name "
                "dan last_name untuk laporan anonim, bila kecamatan menerimanya).",
            )
        )
    notes = []
    address = _text(form, "address_string")
    if len(address) > 300:
        problems.append(Problem(400, "address_string paling banyak 300 karakter."))
    elif address:
        notes.append(f"Lokasi: {address}")
    lat, long = _text(form, "lat"), _text(form, "long")
    if lat or long:
        lat_value, long_value = _coordinate(lat, -90, 90), _coordinate(long, -180, 180)
        if lat_value is None or long_value is None:
            problems.append(
                Problem(400, "lat dan long harus diisi bersama, berupa derajat desimal (lat -90..90, long -180..180).")
            )
        else:
            notes.append(f"Koordinat: {lat_value:.6f}, {long_value:.6f}")
    media = _text(form, "media_url")
    if media:
        parts = urlsplit(media)
        valid = parts.scheme in ("http", "https") and parts.netloc and len(media) <= 500
        if not valid or any(c.isspace() for c in media):
            problems.append(Problem(400, "media_url harus berupa alamat http(s) yang sah, paling banyak 500 karakter."))
        else:
            notes.append(f"Tautan foto/berkas: {media}")
    if problems:
        raise Problems(problems)
    # the kecamatan not known here (a 404 follows, nothing is written): the code is one of a list served here
    category = category or named((), code)
    full = description + ("\n\n" + "\n".join(notes) if notes else "")
    return NewRequest(
        kecamatan=kecamatan,
        category=category,
        name=name or ("" if anonymous else FALLBACK_NAME),
        email=email,
        phone=phone,
        subject=subject_for(category.name, description),
        description=full,
        anonymous=anonymous,
    )
