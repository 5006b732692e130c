"""Demo users for development and the demo (``pengaduan seed-demo``, ``make run``); never in production (the
caller refuses there, invariant 11)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from services.accounts.adapters.passwords import hash_password
from services.accounts.adapters.tables import users
from shared.tenancy import Kecamatan

DEMO_PASSWORD = "demo"


def demo_users(items: Iterable[Kecamatan]) -> list[dict[str, Any]]:
    """Four staff per kecamatan (``staf.K``, ``kasi.K``, ``sekcam.K``, ``camat.K``), one watcher per
    kabupaten (``kabupaten.B``) and ``admin``."""
    rows: list[dict[str, Any]] = []
    kabupaten: dict[str, str] = {}
    for k in items:
        kabupaten.setdefault(k.kabupaten_slug, k.kabupaten_name)
        for role, name, unit in (
            ("staf", f"Staf Kecamatan {k.name}", None),
            ("kasi", f"Kasi Pemerintahan Kecamatan {k.name}", "pemerintahan"),
            ("sekcam", f"Sekretaris Kecamatan {k.name}", None),
            ("camat", f"Camat {k.name}", None),
        ):
            rows.append(
                {
                    "username": f"{role}.{k.slug}",
                    "full_name": name,
                    "role": role,
                    "kecamatan": k.slug,
                    "kabupaten": k.kabupaten_slug,
                    "unit": unit,
                }
            )
    for slug, name in kabupaten.items():
        rows.append(
            {
                "username": f"kabupaten.{slug}",
                "full_name": f"Operator {name}",
                "role": "kabupaten",
                "kecamatan": None,
                "kabupaten": slug,
                "unit": None,
            }
        )
    rows.append(
        {
            "username": "admin",
            "full_name": "Administrator Sistem Pengaduan",
            "role": "admin",
            "kecamatan": None,
            "kabupaten": None,
            "unit": None,
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
