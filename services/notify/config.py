"""The notify service's settings: the base ones, the channels' (services/notify/adapters/channels/settings.py)
and how sends are retried."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.notify.adapters.channels.settings import ChannelSettings
from shared.config import Settings


class NotifySettings(Settings, ChannelSettings):
    notify_max_attempts: int = Field(8, ge=1, le=30, description="Sends tried per message before it is failed")
    notify_retry_base_seconds: float = Field(
        15.0, gt=0, description="First pause after a transient failure; doubles per attempt (with jitter)"
    )
    notify_retry_max_seconds: float = Field(1800.0, gt=0, description="Longest pause between two attempts")
    notify_sending_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="A send still marked 'sending' after this long lost its worker: it is reconciled with the "
        "provider, never blindly sent again",
    )
    notify_outcome_write_seconds: float = Field(
        5.0,
        gt=0,
        description="After the provider answered, how long writing its answer is retried through a database blip "
        "(at most a quarter of the task's soft time limit); then the answer is queued as a task of its own",
    )
    notify_new_work_gather_seconds: float = Field(
        1.0,
        ge=0,
        le=10,
        description="The staff's news of new work is planned in rounds (projections process): after a round that "
        "read any event, the next waits this long, so that a busy moment's events are read in one round, not one "
        "round per append (the news reaches staff up to this much later)",
    )
    notify_max_event_age_hours: float = Field(
        48.0, gt=0, description="Older events make no message (a new subscription does not replay history to citizens)"
    )
    whatsapp_templates: dict[str, str] = Field(
        default_factory=dict,
        description='Approved WhatsApp template per kind of message ({"response_letter": "surat_tanggapan"}); '
        "business-initiated messages outside the 24-hour window must use one. Parameters: the kind's variables in order, "
        "one line each, '-' for an empty one (domain/templates.py: whatsapp_parameters)",
    )
    tracking_url: str = Field(
        "{base}/lacak/{code}",
        description="The link a complainant follows their complaint by (the web app's tracking page)",
    )
    staff_complaint_url: str = Field(
        "{base}/petugas/pengaduan/{complaint_id}",
        description="The link staff open a complaint by (the web app's complaint page)",
    )

    @property
    def documents_url(self) -> str:
        return self.document_store_url or (Path(self.data_dir).resolve() / "documents").as_uri()
