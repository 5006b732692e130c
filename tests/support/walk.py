"""The walk of one complaint through the 12 SOP steps over HTTP, as the kecamatan's staff take it, each step by the
role that owns it with seed-demo's users: driven by the compose stack's test (tests/compose/test_compose_stack.py)
and by the walk benchmark (bench/walk.py), which must take the same walk."""

from __future__ import annotations

import httpx

PASSWORD = "demo"  # seed-demo's users (the CI override runs the development environment: docker-compose.ci.yml)
# Each action of the SOP, by the role that owns its step (as tests/integration/test_workflow_api.py walks it)
WALK = [
    (2, "kasi.pegantenan", "verify-identity", {"notes": "KTP cocok"}),
    (3, "staf.pegantenan", "register", {}),
    (4, "camat.pegantenan", "dispose", {"unit": "pemerintahan", "instructions": "Koordinasikan dengan desa."}),
    (5, "kasi.pegantenan", "clarify", {"explanation": "Perbaikan dijadwalkan bulan depan."}),
    (6, "kasi.pegantenan", "request-letter", {}),
    (7, "staf.pegantenan", "draft-letter", {"perihal": "Tanggapan pengaduan", "body": "Dengan hormat, ..."}),
    (8, "sekcam.pegantenan", "review-letter", {"approved": True, "notes": "Paraf"}),
    (9, "staf.pegantenan", "duplicate-letter", {}),
    (10, "camat.pegantenan", "sign-letter", {}),
    (11, "staf.pegantenan", "archive-letter", {}),
    (12, "staf.pegantenan", "send-response", {"channel": "otomatis"}),
]


def act(http: httpx.Client, cid: str, headers: dict, action: str, fields: dict) -> dict | None:
    """The action taken on the complaint as it is now (a GET, then the POST, as the staff's page does: workers
    append events of their own meanwhile, the acknowledgment's report or the receipt; the POST asks for a minimal
    answer, as the page does, which reads the complaint again after it); None while the letters worker has not
    reported the signed document yet, or when a worker's event came between the two. Returns the action's answer:
    the complaint's id, status, version and step."""
    version = http.get(f"/v1/complaints/{cid}", headers=headers).json()["version"]
    r = http.post(
        f"/v1/complaints/{cid}/{action}",
        json={"expected_version": version, **fields},
        headers={**headers, "Prefer": "return=minimal"},
    )
    if r.status_code == 409 and r.json()["code"] in ("letter_not_ready", "stale_version"):
        return None
    assert r.status_code == 200, (action, r.text)
    return r.json()
