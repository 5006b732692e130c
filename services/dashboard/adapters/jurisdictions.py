"""Open311's jurisdictions: every kecamatan on record (its slug is the ``jurisdiction_id``) with its kabupaten's
complaint categories, what the catalogue, the searches and the names of the requests read
(shared/contracts/open311.py ``Jurisdiction``). Read from the kecamatan directory on each request, as the other
Open311 reads are: a kabupaten's changed list shows at once. The table is small (a row per kecamatan served).
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from shared.contracts.categories import categories_of
from shared.contracts.open311 import Jurisdiction
from shared.tenancy import kabupaten_table, kecamatan_table


def jurisdictions(engine: Engine) -> list[Jurisdiction]:
    k, kab = kecamatan_table, kabupaten_table
    stmt = select(
        k.c.slug, k.c.kabupaten_slug, k.c.kabupaten_name, k.c.active, kab.c.settings["categories"].label("categories")
    ).select_from(k.outerjoin(kab, kab.c.slug == k.c.kabupaten_slug))
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        Jurisdiction(
            slug=r["slug"],
            kabupaten=r["kabupaten_slug"],
            kabupaten_name=r["kabupaten_name"],
            categories=categories_of({"categories": r["categories"]}),  # checked when stored; none: the default
            active=r["active"],
        )
        for r in rows
    ]
