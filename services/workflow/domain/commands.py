from __future__ import annotations

from shared.contracts.intake import ComplaintSubmitted
from shared.events import Frozen


class RecordComplaint(Frozen):
    """Take a submission from intake into the workflow (step 1 of the SOP)."""

    submission: ComplaintSubmitted
