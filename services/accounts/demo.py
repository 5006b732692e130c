"""Demo users for development and the demo (``pengaduan seed-demo``, ``make run``); never in production (the
caller refuses there, invariant 11)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from services.accounts.adapters.passwords import hash_password
from services.accounts.adapters.tables import users
from shared.contracts.organisation import PP17_UNITS
from shared.tenancy import Kecamatan

DEMO_PASSWORD = "demo"
# the NIK the demo Camat of Pegantenan signs through BSrE with: the demo user of `make run`'s stand-in for BSrE
# (devtools/bsre DEMO_USERS, passphrase "rahasia-bsre-123"), for a kecamatan set to sign so (docs/adr/0016)
DEMO_TTE_NIK = {"camat.pegantenan": "3528071204780001"}


# rank by post, as a kecamatan's officials usually hold them: (pangkat, golongan)
RANKS = {
    "camat": ("Pembina Tingkat I", "IV/b"),
    "sekcam": ("Pembina", "IV/a"),
    "kasi": ("Penata Tingkat I", "III/d"),
    "staf": ("Penata Muda", "III/a"),
}


def demo_nip(username: str) -> str:
    """A real-looking NIP (born YYYYMMDD, CPNS since YYYYMM, 1 or 2 for sex, a sequence number), the same for
    the same username every time: 18 digits as Peraturan BKN 22/2007 lays them out."""
    n = int(hashlib.sha256(username.encode()).hexdigest(), 16)
    born = date(1968, 1, 1) + timedelta(days=n % (20 * 365))
    since = date(born.year + 23 + (n >> 20) % 8, 1 + (n >> 24) % 12, 1)
    return f"{born:%Y%m%d}{since:%Y%m}{1 + (n >> 28) % 2}{1 + (n >> 32) % 999:03d}"


def demo_users(items: Iterable[Kecamatan]) -> list[dict[str, Any]]:
    """Per kecamatan: ``staf.K``, ``sekcam.K``, ``camat.K`` and a Kasi/Kasubag for each unit of PP 17/2018
    (``kasi.K`` heads Seksi Pemerintahan, ``kasi.<unit>.K`` the others), each with a NIP, pangkat and golongan;
    one watcher per kabupaten (``kabupaten.B``) and ``admin``."""
    rows: list[dict[str, Any]] = []
    kabupaten: dict[str, str] = {}
    for k in items:
        kabupaten.setdefault(k.kabupaten_slug, k.kabupaten_name)
        people = [
            ("staf", f"staf.{k.slug}", f"Staf Kecamatan {k.name}", None),
            ("kasi", f"kasi.{k.slug}", f"Kasi Pemerintahan Kecamatan {k.name}", "pemerintahan"),
            ("sekcam", f"sekcam.{k.slug}", f"Sekretaris Kecamatan {k.name}", None),
            ("camat", f"camat.{k.slug}", f"Camat {k.name}", None),
        ]
        people += [
            (
                "kasi",
                f"kasi.{u.code}.{k.slug}",
                f"{'Kasi' if u.kind == 'seksi' else 'Kasubag'} {u.name} {k.name}",
                u.code,
            )
            for u in PP17_UNITS
            if u.code != "pemerintahan"
        ]
        for role, username, name, unit in people:
            pangkat, golongan = RANKS[role]
            rows.append(
                {
                    "username": username,
                    "full_name": name,
                    "role": role,
                    "kecamatan": k.slug,
                    "kabupaten": k.kabupaten_slug,
                    "unit": unit,
                    "nip": demo_nip(username),
                    "pangkat": pangkat,
                    "golongan": golongan,
                    "tte_nik": DEMO_TTE_NIK.get(username),
                }
            )
    empty = {"unit": None, "nip": None, "pangkat": None, "golongan": None, "tte_nik": None}
    for slug, name in kabupaten.items():
        rows.append(
            {
                "username": f"kabupaten.{slug}",
                "full_name": f"Operator {name}",
                "role": "kabupaten",
                "kecamatan": None,
                "kabupaten": slug,
                **empty,
            }
        )
        rows.append(
            {
                "username": f"pdp.{slug}",
                "full_name": f"Pejabat Pelindungan Data Pribadi {name}",
                "role": "pdp",
                "kecamatan": None,
                "kabupaten": slug,
                **empty,
            }
        )
    rows.append(
        {
            "username": "admin",
            "full_name": "Administrator Sistem Pengaduan",
            "role": "admin",
            "kecamatan": None,
            "kabupaten": None,
            **empty,
        }
    )
    return rows


def ensure_demo_users(engine: Engine, items: Iterable[Kecamatan], password: str = DEMO_PASSWORD) -> int:
    """Adds the demo users that are missing (existing ones are left as they are); returns how many were
    added. One argon2 hash of the demo password serves them all."""
    password_hash = hash_password(password)
    rows = [{**r, "password_hash": password_hash} for r in demo_users(items)]
    with engine.begin() as conn:
        result = conn.execute(
            insert(users).values(rows).on_conflict_do_nothing(index_elements=["username"]).returning(users.c.username)
        )
        return len(result.all())
