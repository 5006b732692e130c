from shared.config import Settings


class IntakeSettings(Settings):
    """Intake's settings: the base ones for now (every field documented in the README)."""
