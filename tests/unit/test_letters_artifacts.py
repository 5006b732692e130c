"""Sample documents, rendered for a person to look at (issue #16 item 2): the letters worker's own handlers on the
in-memory unit of work make a receipt, a signed response letter with its Tembusan, a surat pelimpahan and a
Lembar Disposisi for a kecamatan with the whole kop (address, telephone, kode pos, laman, pos-el, the placeholder
lambang), plus the blank form; each is written to ``test-artifacts/letters/`` as PDF and as PNG pages (pypdfium2,
150 dpi, with the signature's visible appearance). The test checks what the pictures show where a person would look: the lambang's grey shield at the top
left of the kop, the double rule under it, ink in the signature block, nothing printed in the margins."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from services.letters import handlers
from services.letters.adapters.memory import LettersMemory
from services.letters.unit_of_work import StaffName
from shared.storage import LocalDocumentStore
from shared.tenancy import Kecamatan, demo_kecamatan
from tests.contracts.letters_uow import Story
from tests.unit.test_letters_flow import World, signing_keys  # noqa: F401

DPI = 150
MM = DPI / 25.4  # pixels per millimetre
SAMPLE = next(k for k in demo_kecamatan() if k.slug == "pegantenan")
PLACE = Kecamatan(
    "contoh-pegantenan",
    "35.28.07",
    "Pegantenan",
    "pamekasan",
    "Kabupaten Pamekasan",
    {
        **SAMPLE.letterhead,
        "website": "pegantenan.example.go.id",  # example addresses: the demo's kecamatan publishes none here
        "email": "kecamatan@pegantenan.example.go.id",
    },
)
CAMAT = StaffName("Drs. H. Moh. Ma'ruf, M.Si.", "19700101 199003 1 001", "Pembina Tingkat I", "IV/b")


@pytest.fixture(scope="module")
def folder(artifacts_dir) -> Path:
    path = artifacts_dir / "letters"
    path.mkdir(parents=True, exist_ok=True)
    for old in (*path.glob("*.png"), *path.glob("*.pdf")):
        old.unlink()  # this run's only
    return path


@pytest.fixture(scope="module")
def samples(signing_keys, tmp_path_factory) -> dict[str, bytes]:
    memory = LettersMemory()
    ctx = handlers.Context(
        uow=memory.uow,
        directory={PLACE.slug: PLACE},
        documents=LocalDocumentStore(tmp_path_factory.mktemp("sample-documents")),
        keys=signing_keys,
        public_base_url="https://pengaduan.example",
    )
    world = World(memory)
    world.add_staff(PLACE, "camat.contoh", CAMAT.full_name, CAMAT.nip)
    memory.staff["camat.contoh"] = CAMAT
    answered = Story(world, PLACE)
    received = answered.received()
    answered.registered()
    disposed = answered.disposed("camat.contoh")
    answered.clarified()
    answered.drafted()
    answered.duplicated(["Bupati Pamekasan (sebagai laporan)", "Inspektur Kabupaten Pamekasan"])
    signed = answered.signed("camat.contoh")
    referred = Story(world, PLACE)
    referred.received()
    referral = referred.referred("camat.contoh")

    def stored(row) -> bytes:
        return ctx.documents.get(row["sha256"])

    return {
        "tanda-terima": stored(handlers.issue_receipt(ctx, received.event_id)),
        "surat-tanggapan": ctx.documents.get(handlers.issue_signed_letter(ctx, signed.event_id).sha256),
        "surat-pelimpahan": stored(handlers.issue_referral_letter(ctx, referral.event_id)),
        "lembar-disposisi": stored(handlers.issue_disposition_sheet(ctx, disposed.event_id)),
        "formulir-pengaduan": handlers.complaint_form(ctx, PLACE.slug)[0],
    }


def pngs(pdf: bytes, folder: Path, stem: str) -> list[Path]:
    (folder / f"{stem}.pdf").write_bytes(pdf)
    document = pdfium.PdfDocument(pdf)
    document.init_forms()  # so the signature field's appearance (the visible stamp) is drawn too
    paths = []
    for i in range(len(document)):
        path = folder / f"{stem}-{i + 1}.png"
        document[i].render(scale=DPI / 72).to_pil().save(path)
        paths.append(path)
    return paths


def ink(image: Image.Image, box_mm: tuple[float, float, float, float]) -> float:
    """The share of dark pixels (below mid-grey) in a box given in millimetres from the top left."""
    left, top, right, bottom = (round(v * MM) for v in box_mm)
    region = image.convert("L").crop((left, top, right, bottom))
    histogram = region.histogram()  # 256 counts of grey levels
    return sum(histogram[:160]) / (region.width * region.height)


@pytest.mark.parametrize(
    "stem", ["surat-tanggapan", "tanda-terima", "surat-pelimpahan", "lembar-disposisi", "formulir-pengaduan"]
)
def test_a_sample_is_rendered_to_png_and_shows_the_kop_where_a_person_looks_for_it(samples, folder, stem):
    (first, *_rest) = pngs(samples[stem], folder, stem)
    image = Image.open(first)
    assert image.size[0] == pytest.approx(210 * MM, abs=2) and image.size[1] == pytest.approx(297 * MM, abs=2)  # A4
    # the lambang at the top left of the kop: the placeholder's shield outline, 25-45 mm across, 15-37 mm down
    assert ink(image, (25, 15, 44, 37)) > 0.05
    # the double rule under the kop, across the text width (a thick line about 39-41 mm down)
    rule = max(ink(image, (25, y / 2, 190, y / 2 + 0.6)) for y in range(70, 90))
    assert rule > 0.9
    # nothing printed in the left margin below the kop (the text starts at 25 mm)
    assert ink(image, (0, 45, 22, 270)) == 0


def test_the_signed_sample_letter_shows_its_signature_block_and_tembusan(samples, folder):
    (first,) = pngs(samples["surat-tanggapan"], folder, "surat-tanggapan")
    image = Image.open(first)
    lower_right, lower_left = ink(image, (105, 120, 190, 200)), ink(image, (25, 140, 100, 200))
    assert lower_right > 0.005  # jabatan, name, pangkat, NIP (and the signature's appearance)
    assert lower_left > 0.005  # the QR code and the Tembusan
