"""Events of the complaint stream. Those other services read are contracts in shared/contracts/workflow.py."""

from __future__ import annotations

from uuid import UUID

from shared.contracts.workflow import ComplaintReceived

__all__ = ["ComplaintReceived", "stream_id"]


def stream_id(complaint_id: UUID) -> str:
    return f"complaint-{complaint_id}"
