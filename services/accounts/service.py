"""The accounts service, as the composition root (``pengaduan/``) sees it: its commands. Its sign-in router
is served by the workflow API's process (``pengaduan/apps.py``); other services read users only through
its contract, the view ``tenancy.staff_directory`` (``shared/contracts/accounts.py``)."""

from __future__ import annotations

from services.accounts.cli import add_commands
from shared.service import Service

SERVICE = Service(name="accounts", cli=add_commands)
