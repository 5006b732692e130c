from typing import Any

from pydantic import Field, SecretStr, model_validator

from shared.config import Settings


class LaporSettings(Settings):
    """The SP4N-LAPOR! bridge (docs/adr/0023). Off unless ``PENGADUAN_LAPOR_URL`` is set: nothing polled, followed
    or sent (a complaint comes from LAPOR! only while it is on; switched on again, the follower catches up from
    where it stopped). What each setting must be for a
    kabupaten is confirmed with LAPOR! under its own credentials (README, "SP4N-LAPOR!")."""

    lapor_url: str | None = Field(
        None, description="Base URL of LAPOR!'s integration API (given to registered developers); unset: bridge off"
    )
    lapor_token: SecretStr | None = Field(None, description="The access token LAPOR! issued to the agency")
    lapor_instansi: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: each kecamatan slug -> the LAPOR! instansi id its reports are disposed to, e.g. "
        '{"pegantenan": "12345"}; a kecamatan not listed is neither polled nor reported',
    )
    lapor_poll_seconds: float = Field(300.0, ge=5, description="Seconds between two polls of LAPOR!'s dispositions")
    lapor_send_seconds: float = Field(10.0, ge=0.1, description="Seconds between two looks at the follow-up outbox")
    lapor_timeout: float = Field(15.0, gt=0, le=120, description="Seconds a call to LAPOR! (or to intake) may take")
    lapor_intake_url: str = Field(
        "http://127.0.0.1:8001", description="Intake's API as the bridge reaches it (not through the gateway)"
    )
    lapor_webhook_token: SecretStr | None = Field(
        None, description="The secret of intake's POST /v1/channels/lapor (the same variable intake reads)"
    )
    lapor_retry_seconds: float = Field(30.0, gt=0, description="The first pause before a failed call is tried again")
    lapor_retry_max_seconds: float = Field(3600.0, gt=0, description="The longest pause between two tries")
    lapor_max_attempts: int = Field(
        30, ge=1, description="Tries of a hand-over or a follow-up that LAPOR! or intake refuse before a person looks"
    )
    lapor_batch: int = Field(50, ge=1, le=500, description="Reports or follow-ups handled per round")

    @property
    def lapor_enabled(self) -> bool:
        return bool(self.lapor_url)

    @model_validator(mode="after")
    def _complete_when_on(self) -> "LaporSettings":
        if not self.lapor_url:
            return self
        missing = [
            name
            for name, value in (
                ("PENGADUAN_LAPOR_TOKEN", self.lapor_token),
                ("PENGADUAN_LAPOR_WEBHOOK_TOKEN", self.lapor_webhook_token),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise ValueError(f"PENGADUAN_LAPOR_URL is set: {' and '.join(missing)} must be set too")
        if self.environment == "production" and not self.lapor_url.startswith("https://"):
            raise ValueError("PENGADUAN_LAPOR_URL must be https:// in production (the token travels with each call)")
        return self

    @classmethod
    def from_base(cls, settings: Settings, **overrides: Any) -> "LaporSettings":
        """The base settings a process built, with the bridge's own read from the environment (or ``overrides``)."""
        return cls(**{**settings.model_dump(), **overrides})
