from pydantic import Field

from shared.config import Settings


class WorkflowSettings(Settings):
    """The workflow's settings: the base ones it reads (its database and broker, the secret its API checks tokens
    with, the relay's batch size and poll interval, which intake's publisher and the projections read too), and
    where its API reaches the letters API for a signature through BSrE at step 10 (docs/adr/0016). A setting only
    the workflow reads is declared here, not on the base."""

    letters_url: str = Field(
        "http://127.0.0.1:8003",
        description="The letters API as the workflow's API reaches it, not through the gateway (the same variable "
        "the gateway reads): step 10 asks it for the signature through BSrE where a kecamatan signs so",
    )
    esign_timeout: float = Field(
        25.0,
        ge=5,
        le=28,
        description="Seconds step 10 gives letters and BSrE (sent as a deadline: letters starts no try of BSrE "
        "that could not end by then); below the gateway's 30 s",
    )

    @classmethod
    def from_base(cls, settings: Settings) -> "WorkflowSettings":
        """``settings`` as the workflow's (a process or a test that built the base ones): the same values, checked
        again, no environment read."""
        return settings if isinstance(settings, cls) else cls.model_validate(settings.model_dump())
