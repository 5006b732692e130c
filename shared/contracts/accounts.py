"""What other services may know of the accounts service (``services/accounts``): the roles a user can have, and
the staff directory.

The staff directory is the view ``tenancy.staff_directory`` (migrations 0013, 0015) over accounts' own table
``tenancy.users``: every user, active or not, with who they are, where they work and how notify reaches them,
one ``StaffMember`` per row. It is read-only for everyone but accounts, and it leaves out what is accounts' alone
(the password hash). Readers (through ``shared.staff_directory``, its SQLAlchemy table): ``shared.auth``'s token
guard (is the user still active, unchanged since the token was issued?), notify (whom to alert and how) and
letters (the signing Camat's name and NIP).

A contract: columns are added, never renamed or dropped; accounts may change its table behind the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Who a user is; a token carries its user's role, and every service checks it.
ROLES = ("staf", "kasi", "sekcam", "camat", "kabupaten", "pdp", "admin")
# Kecamatan staff, each bound to one kecamatan (a kasi also to a unit). ``kabupaten`` reads every kecamatan of
# one kabupaten (regency) and touches none; ``pdp`` is the kabupaten's Pejabat Pelindungan Data Pribadi (UU 27/2022
# PDP, art. 53): it reads as ``kabupaten`` does and decides the complainants' requests about their personal data
# (erasure, access, correction) and reads who looked at it (issue #17); ``admin`` operates the deployment.
KECAMATAN_ROLES = frozenset({"staf", "kasi", "sekcam", "camat"})
KABUPATEN_ROLES = frozenset({"kabupaten", "pdp"})  # bound to one kabupaten, every kecamatan of it, masked

STAFF_DIRECTORY = ("tenancy", "staff_directory")  # (schema, view)


@dataclass(frozen=True)
class StaffMember:
    """One row of the staff directory; its fields are the view's columns, in order."""

    username: str
    full_name: str
    role: str  # one of ROLES
    kecamatan: str | None  # set for KECAMATAN_ROLES
    kabupaten: str | None  # the kecamatan's kabupaten, or the kabupaten a ``kabupaten`` user watches
    unit: str | None  # a kasi's unit (pemerintahan, trantib, ...), as written
    nip: str | None  # 18 digits, printed under the Camat's signature
    active: bool
    tokens_valid_after: datetime | None  # tokens issued at or before it are refused (deactivation, new password)
    # where notify reaches the user: overdue alerts always, new work when they asked for it
    email: str | None
    phone: str | None  # E.164
    notify_channel: str  # email, sms or whatsapp
    notify_new_work: bool
    # an official's rank (migration 0015), printed under a signature: "Pembina", "IV/a"
    pangkat: str | None
    golongan: str | None  # I/a ... IV/e
    # the NIK an official's BSrE signing certificate is registered under (migration 0019): letters sends it with the
    # passphrase the official types when signing through BSrE (docs/adr/0016); personal data, read for that only
    tte_nik: str | None = None
