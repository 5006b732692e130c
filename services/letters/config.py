from pathlib import Path

from pydantic import Field

from shared.config import Settings


class LettersSettings(Settings):
    """The letters service's settings: the base ones (document store, signing keys) and where each kabupaten's
    lambang is."""

    lambang_dir: str | None = Field(
        None,
        description="Each kabupaten's lambang for the kop surat, <kabupaten slug>.png (e.g. pamekasan.png); a "
        "kabupaten without one gets the neutral placeholder; default <data_dir>/lambang",
    )

    @property
    def documents_url(self) -> str:
        return self.document_store_url or (Path(self.data_dir).resolve() / "documents").as_uri()

    @property
    def signing_path(self) -> Path:
        return Path(self.signing_dir or Path(self.data_dir) / "signing").resolve()

    @property
    def lambang_path(self) -> Path:
        return Path(self.lambang_dir or Path(self.data_dir) / "lambang").resolve()
