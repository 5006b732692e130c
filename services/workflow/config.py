from shared.config import Settings


class WorkflowSettings(Settings):
    """The workflow's settings: the base ones it reads (its database and broker, the secret its API checks tokens
    with, the relay's batch size and poll interval, which intake's publisher and the projections read too). None
    of its own yet: a setting only the workflow reads is declared here, not on the base."""

    @classmethod
    def from_base(cls, settings: Settings) -> "WorkflowSettings":
        """``settings`` as the workflow's (a process or a test that built the base ones): the same values, checked
        again, no environment read."""
        return settings if isinstance(settings, cls) else cls.model_validate(settings.model_dump())
