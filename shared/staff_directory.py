"""The staff directory (``shared/contracts/accounts.py``) as a SQLAlchemy table, for the services that read it:
``tenancy.staff_directory``, a view (migrations 0013, 0015), one column per field of ``StaffMember``."""

from __future__ import annotations

from shared.contract_views import view_table
from shared.contracts.accounts import STAFF_DIRECTORY, StaffMember

staff_directory = view_table(StaffMember, STAFF_DIRECTORY, key=("username",))
