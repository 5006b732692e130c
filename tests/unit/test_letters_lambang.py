"""The kabupaten's lambang on the kop surat (issue #16 item 2): its own PNG from the lambang folder
(``PENGADUAN_LAMBANG_DIR``, default ``<data dir>/lambang``, ``<kabupaten slug>.png``), else the neutral placeholder
bundled with the service; a changed file is printed from the next document on; a file that cannot be printed fails
loudly. The handlers put it on every document they make (receipt, draft, letters, Lembar Disposisi, form)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from services.letters import handlers
from services.letters.adapters.lambang import MAX_BYTES, PLACEHOLDER, InvalidLambang, LambangFiles, check_png
from services.letters.config import LettersSettings
from tests.unit.test_letters_flow import letters, memory, place, signing_keys, story  # noqa: F401


def png(width: int, height: int, colour: tuple[int, int, int, int] = (200, 30, 30, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    return [i.image.size for i in PdfReader(io.BytesIO(pdf)).pages[0].images]


def test_the_placeholder_is_a_neutral_png_shipped_with_the_service():
    data = PLACEHOLDER.read_bytes()
    assert check_png(data, "placeholder") == (300, 360)
    assert LambangFiles(None).of("pamekasan") == data
    # named in the package data, so that `pip install .` (the image) carries it
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"templates/*.png"' in pyproject


def test_a_kabupaten_with_its_own_file_gets_it_and_the_others_the_placeholder(tmp_path):
    own = png(64, 80)
    (tmp_path / "pamekasan.png").write_bytes(own)
    lambangs = LambangFiles(tmp_path)
    assert lambangs.of("pamekasan") == own
    assert lambangs.of("sumenep") == PLACEHOLDER.read_bytes()
    assert lambangs.of("../pamekasan") == PLACEHOLDER.read_bytes()  # a slug names no other path
    assert lambangs.path_of("../x") is None and lambangs.path_of("Pamekasan") is None


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "pamekasan.png"
    path.write_bytes(png(64, 80))
    lambangs = LambangFiles(tmp_path)
    lambangs.of("pamekasan")
    newer = png(96, 120, (10, 120, 10, 255))
    path.write_bytes(newer)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert lambangs.of("pamekasan") == newer


@pytest.mark.parametrize(
    "data,why",
    [
        (b"GIF89a" + b"\0" * 100, "not a PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a readable PNG"),
        (png(8, 8), "8x8 px"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_BYTES + 1), "more than"),
    ],
    ids=["gif", "broken", "tiny", "huge"],
)
def test_a_file_that_cannot_be_printed_is_refused_naming_it(tmp_path, data, why):
    (tmp_path / "pamekasan.png").write_bytes(data)
    with pytest.raises(InvalidLambang, match=why) as refused:
        LambangFiles(tmp_path).of("pamekasan")
    assert "pamekasan.png" in str(refused.value)


def test_the_setting_defaults_to_the_data_dir(tmp_path):
    assert LettersSettings(data_dir=str(tmp_path)).lambang_path == (tmp_path / "lambang").resolve()
    other = tmp_path / "elsewhere"
    assert LettersSettings(data_dir=str(tmp_path), lambang_dir=str(other)).lambang_path == other.resolve()


def test_every_document_carries_the_kabupatens_lambang(letters, story, place, tmp_path):
    """The receipt, the draft, the signed letter and the blank form of a kecamatan of Pamekasan carry Pamekasan's
    own lambang (its pixels), once the kabupaten has put its file in the folder."""
    (tmp_path / "lambang").mkdir()
    (tmp_path / "lambang" / f"{place.kabupaten_slug}.png").write_bytes(png(64, 80))
    letters.lambang = LambangFiles(tmp_path / "lambang")
    receipt = handlers.issue_receipt(letters, story.events[0].event_id)
    draft = handlers.render_draft(letters, story.events[2].event_id)
    signed = handlers.issue_signed_letter(letters, story.signed(f"camat.{place.slug}").event_id)
    for pdf in (
        letters.documents.get(receipt["sha256"]),
        letters.documents.get(draft["sha256"]),
        letters.documents.get(signed.sha256),
        handlers.complaint_form(letters, place.slug)[0],
    ):
        assert (64, 80) in image_sizes(pdf)


def test_by_default_the_documents_carry_the_placeholder(letters, story):
    receipt = handlers.issue_receipt(letters, story.events[0].event_id)
    assert (300, 360) in image_sizes(letters.documents.get(receipt["sha256"]))
