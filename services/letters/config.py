from pathlib import Path

from shared.config import Settings


class LettersSettings(Settings):
    """The letters service's settings: the base ones (document store, signing keys)."""

    @property
    def documents_url(self) -> str:
        return self.document_store_url or (Path(self.data_dir).resolve() / "documents").as_uri()

    @property
    def signing_path(self) -> Path:
        return Path(self.signing_dir or Path(self.data_dir) / "signing").resolve()
