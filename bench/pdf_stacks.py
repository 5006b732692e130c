"""``python -m bench.pdf_stacks``: the same response letter (surat tanggapan) rendered by each candidate
PDF stack (ReportLab, fpdf2, WeasyPrint), for docs/adr/0003-pdf-stack.md. Prints one JSON document.

    python -m bench.pdf_stacks                       # 200 one-page letters + 30 long ones per stack
    python -m bench.pdf_stacks --n 50 --long-n 10    # quicker
    python -m bench.pdf_stacks --stacks reportlab,fpdf2

Each stack runs in its own fresh interpreter (``--worker NAME``), one after the other, so that imports,
font caches and memory of one stack do not count against another. A worker measures:

- ``import_s`` and ``rss_import_mib``: importing the stack (and segno) and nothing else;
- ``cold_first_s`` and ``rss_first_letter_mib``: the first letter (parses the TTF files, builds caches);
- ``letters_per_s`` (one-page letter, ``--n`` times) and ``long_letters_per_s`` (a 3+-page body,
  ``--long-n`` times), with the median and p95 of single renders;
- ``peak_rss_increase_mib``: the process's peak RSS (``ru_maxrss``) after the loops minus its RSS after
  the first letter, i.e. what rendering adds on top of the loaded stack; ``rss_growth_mib``: RSS after
  the loops minus RSS after the first letter (a leak would show here).

A stack that is not installed (fpdf2 and WeasyPrint are not project dependencies: ``pip install fpdf2
weasyprint`` first) or that cannot load its system libraries is reported as ``skipped``.

The parent then opens every output with pypdf and checks what a reader would: pages, embedded fonts,
the literal text of names with apostrophes and of ``<script>`` / ``{{7*7}}``, the QR image, "Halaman n
dari N" and the running header on page 2. Absolute figures vary ±20% between runs on a shared 2-core
machine; compare the stacks within one run. The PDFs are kept in bench/results/pdf_stacks/ (git-ignored)
to look at.

ReportLab is the production renderer (services/letters/adapters/pdf/). The fpdf2 and WeasyPrint
renderers below are written here only for the comparison, to the same layout: kop with a double rule,
place/date, Nomor block, addressee, justified body with first-line indent, closing, signature block
with a QR code, running header and page numbers on long letters, DRAF watermark, Liberation Sans
embedded.
"""

from __future__ import annotations

import argparse
import base64
import ctypes.util
import html
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "results" / "pdf_stacks"
STACKS = ("reportlab", "fpdf2", "weasyprint")

# ---------------------------------------------------------------------------------------------------
# The letter


def sample_letter(*, long: bool = False, draft: bool = False):
    from services.letters.domain.letter import Letterhead, ResponseLetter, Signer

    paragraphs = [
        "Menindaklanjuti pengaduan Saudara yang kami terima melalui formulir daring pada tanggal "  # noqa: ISC004
        "14 November 2026 dengan kode pelacakan PGD-7K3M-9QX2 perihal lambatnya pelayanan penerbitan "
        "surat keterangan domisili di Kantor Kecamatan Pegantenan, bersama ini kami sampaikan hal-hal "
        "sebagai berikut.",
        "Setelah dilakukan klarifikasi kepada petugas pelayanan dan Kepala Seksi Pemerintahan, "  # noqa: ISC004
        "keterlambatan tersebut disebabkan oleh gangguan jaringan pada sistem informasi administrasi "
        "kependudukan selama tiga hari kerja. Surat keterangan yang Saudara mohonkan telah selesai "
        "diproses dan dapat diambil di loket pelayanan pada jam kerja, Senin sampai dengan Jumat pukul "
        "08.00\u201315.00 WIB.",
        'Pesan Saudara yang memuat teks "<script>alert(1)</script>" dan "{{7*7}}" kami catat apa '  # noqa: ISC004
        "adanya dalam buku rekap pengaduan.",
        "Kami mohon maaf atas ketidaknyamanan yang Saudara alami. Ke depan, kami akan menyediakan "  # noqa: ISC004
        "formulir pelayanan manual sebagai cadangan apabila sistem daring mengalami gangguan, serta "
        "mengumumkan setiap gangguan layanan melalui papan informasi dan media sosial resmi Kecamatan "
        "Pegantenan.",
    ]
    if long:
        paragraphs = [f"{i + 1}. {p}" for i, p in enumerate(paragraphs * 5)]  # 20 paragraphs, 3-4 pages
    return ResponseLetter(
        letterhead=Letterhead(
            pemerintah="PEMERINTAH KABUPATEN PAMEKASAN",
            kecamatan="KECAMATAN PEGANTENAN",
            address="Jalan Raya Pegantenan, Pamekasan 69361",
            phone="(0324) 7710982",
            city="Pegantenan",
        ),
        number=None if draft else "400.14/123/432.312/2026",
        date=date(2026, 11, 28),
        perihal="Tanggapan atas Pengaduan Pelayanan Surat Keterangan Domisili",
        addressee_name="Sdr. Ma'ruf",
        addressee_address="Dusun Tengah, Desa Tebul Barat\nKecamatan Pegantenan",
        body="\n\n".join(paragraphs),
        signer=Signer(
            title="CAMAT PEGANTENAN",
            name="Drs. MOH. NUR'AINI, M.Si",
            rank="Pembina Tk. I",
            nip="19700512 199803 1 007",
        ),
        verify_url="https://pengaduan.pamekasankab.go.id/v/PGD-7K3M-9QX2",
    )


# ---------------------------------------------------------------------------------------------------
# Renderers


def renderer(name: str) -> Callable[[Any], bytes]:
    """Import the stack and return its renderer (the import is what the worker times)."""
    if name == "reportlab":
        from services.letters.adapters.pdf import render_response_letter

        return render_response_letter
    if name == "fpdf2":
        import fpdf  # noqa: F401
        import segno

        return _render_fpdf2
    if name == "weasyprint":
        import segno  # noqa: F401
        import weasyprint  # noqa: F401

        return _render_weasyprint
    raise ValueError(f"unknown stack {name!r}")


def _common(letter):
    from services.letters.adapters import pdf as r
    from services.letters.adapters.pdf.layout import paragraphs
    from shared.tanggal import format_tanggal

    draft = letter.number is None
    return {
        "r": r,
        "draft": draft,
        "number": r.DRAFT_NUMBER if draft else letter.number,
        "date_line": f"{letter.letterhead.city}, {format_tanggal(letter.date)}",
        "paragraphs": paragraphs(letter.body),  # same splitting as production
        "fonts": (r.FONT_DIR / "LiberationSans-Regular.ttf", r.FONT_DIR / "LiberationSans-Bold.ttf"),
    }


def _qr_png(url: str) -> bytes:
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


def _render_fpdf2(letter) -> bytes:
    from datetime import datetime, timedelta, timezone

    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    c = _common(letter)
    r = c["r"]
    cm = 72 / 2.54
    ml, mr, mt, mt_later, mb = 2.5 * cm, 2.0 * cm, 1.5 * cm, 2.5 * cm, 2.0 * cm
    lh = letter.letterhead
    draft, number = c["draft"], c["number"]
    header_number = f"{number} (DRAF)" if draft else number

    class Doc(FPDF):
        def header(self) -> None:
            if draft:
                with self.local_context(fill_opacity=0.35, text_color=(191, 191, 191)):
                    self.set_font("LS", "B", 140)
                    with self.rotation(45, self.w / 2, self.h / 2):
                        self.text(self.w / 2 - 180, self.h / 2 + 50, "DRAF")
            if self.page_no() > 1:
                self.set_font("LS", "", 8.5)
                self.set_text_color(90, 90, 90)
                self.set_xy(ml, mt - 0.3 * cm - 8)
                self.cell(0, 10, lh.kecamatan)
                self.set_xy(ml, mt - 0.3 * cm - 8)
                self.cell(0, 10, f"Nomor: {header_number}", align="R")
                self.set_draw_color(90, 90, 90)
                self.set_line_width(0.5)
                self.line(ml, mt - 0.3 * cm + 4, self.w - mr, mt - 0.3 * cm + 4)
                self.set_text_color(0, 0, 0)
                self.set_y(mt_later)

        def footer(self) -> None:
            self.set_y(-(mb - 0.9 * cm) - 8)
            self.set_font("LS", "", 8)
            self.set_text_color(90, 90, 90)
            # fpdf2 knows the page total only at the end ({nb}); the footer cannot test "more than one".
            self.cell(0, 10, f"Halaman {self.page_no()} dari {{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    pdf = Doc(unit="pt", format="A4")
    pdf.set_creation_date(datetime(2026, 11, 28, tzinfo=timezone(timedelta(hours=7))))
    pdf.set_title(letter.perihal)
    pdf.set_author(lh.kecamatan)
    pdf.add_font("LS", "", str(c["fonts"][0]))
    pdf.add_font("LS", "B", str(c["fonts"][1]))
    pdf.set_margins(ml, mt, mr)
    pdf.set_auto_page_break(True, mb)
    pdf.add_page()
    text_w = pdf.w - ml - mr
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    pdf.set_font("LS", "B", 14)
    pdf.cell(0, 17, lh.pemerintah, align="C", **nl)
    pdf.set_font("LS", "B", 17)
    pdf.cell(0, 21, lh.kecamatan, align="C", **nl)
    pdf.set_font("LS", "", 10)
    pdf.cell(0, 12.5, f"{lh.address}  Telepon {lh.phone}", align="C", **nl)
    y = pdf.get_y() + 4
    pdf.set_line_width(2.2)
    pdf.line(ml, y, ml + text_w, y)
    pdf.set_line_width(0.7)
    pdf.line(ml, y + 3.6, ml + text_w, y + 3.6)
    pdf.set_y(y + 4 + 0.35 * cm)

    pdf.set_font("LS", "", 12)
    pdf.cell(0, 16, c["date_line"], align="R", **nl)
    pdf.ln(0.35 * cm)
    for label, value in (
        ("Nomor", number),
        ("Sifat", letter.sifat),
        ("Lampiran", letter.lampiran),
        ("Perihal", letter.perihal),
    ):
        pdf.cell(2.3 * cm, 16, label)
        pdf.cell(0.45 * cm, 16, ":")
        pdf.multi_cell(0, 16, value, align="L", **nl)
    pdf.ln(0.5 * cm)
    for line in ("Kepada", f"Yth. {letter.addressee_name}", "di"):
        pdf.cell(0, 16, line, **nl)
    pdf.set_x(ml + 1 * cm)
    pdf.multi_cell(0, 16, letter.addressee_address or "Tempat", align="L", **nl)
    pdf.ln(0.5 * cm)

    with pdf.text_columns(text_align="J", line_height=16 / 12) as cols:
        for p in c["paragraphs"]:
            with cols.paragraph(first_line_indent=1.25 * cm, bottom_margin=8) as par:
                par.write(p)

    # no keep-together in fpdf2: move the closing and signature to a new page when they do not fit
    if pdf.will_page_break(2 * 16 + 0.4 * cm + 15 + 2.6 * cm + 3 * 15):
        pdf.add_page()
    with pdf.text_columns(text_align="J", line_height=16 / 12) as cols:  # noqa: SIM117
        with cols.paragraph(first_line_indent=1.25 * cm) as par:
            par.write(r.CLOSING)
    pdf.ln(0.4 * cm)
    sig_w = 8 * cm
    sig_x = ml + text_w - sig_w
    top = pdf.get_y()
    pdf.set_x(sig_x)
    pdf.cell(sig_w, 15, letter.signer.title, align="C", **nl)
    pdf.set_y(pdf.get_y() + 2.6 * cm)
    pdf.set_x(sig_x)
    pdf.set_font("LS", "BU", 12)
    pdf.cell(sig_w, 15, letter.signer.name, align="C", **nl)
    pdf.set_font("LS", "", 12)
    for line in (letter.signer.rank, f"NIP. {letter.signer.nip}"):
        pdf.set_x(sig_x)
        pdf.cell(sig_w, 15, line, align="C", **nl)
    bottom = pdf.get_y()
    if letter.verify_url:
        size = 2.8 * cm
        pdf.image(io.BytesIO(_qr_png(letter.verify_url)), x=ml, y=bottom - size - 12, w=size, h=size)
        pdf.set_font("LS", "", 7.5)
        pdf.set_xy(ml - 0.5 * cm, bottom - 10)
        pdf.cell(size + 1 * cm, 9, r.QR_CAPTION, align="C")
    del top
    return bytes(pdf.output())


_WEASY_CSS = """
@font-face {{ font-family: LS; src: url("{regular}"); }}
@font-face {{ font-family: LS; font-weight: bold; src: url("{bold}"); }}
@page {{
  size: A4; margin: 2.5cm 2cm 2cm 2.5cm;
  @top-left {{ content: "{kecamatan}"; font: 8.5pt LS; color: #5a5a5a; border-bottom: 0.5pt solid #5a5a5a;
               vertical-align: bottom; padding-bottom: 3pt; }}
  @top-right {{ content: "Nomor: {number}"; font: 8.5pt LS; color: #5a5a5a;
                border-bottom: 0.5pt solid #5a5a5a; vertical-align: bottom; padding-bottom: 3pt; }}
  @bottom-right {{ content: "Halaman " counter(page) " dari " counter(pages); font: 8pt LS; color: #5a5a5a; }}
  {watermark}
}}
@page :first {{ margin-top: 1.5cm; @top-left {{ content: none; border: none }}
               @top-right {{ content: none; border: none }} }}
body {{ font: 12pt/16pt LS; margin: 0; }}
.kop {{ text-align: center; border-bottom: 2.2pt solid black; padding-bottom: 3pt; }}
.kop::after {{ content: ""; display: block; border-bottom: 0.7pt solid black; margin-top: 0; }}
.kop .p {{ font-weight: bold; font-size: 14pt; line-height: 17pt; }}
.kop .k {{ font-weight: bold; font-size: 17pt; line-height: 21pt; }}
.kop .a {{ font-size: 10pt; line-height: 12.5pt; }}
.date {{ text-align: right; margin: 0.35cm 0; }}
table.f {{ border-collapse: collapse; }} table.f td {{ vertical-align: top; padding: 0 0 1pt 0; }}
table.f td.l {{ width: 2.3cm; }} table.f td.c {{ width: 0.45cm; }}
.to {{ margin: 0.5cm 0; }} .to .i {{ padding-left: 1cm; }}
p.b {{ text-align: justify; text-indent: 1.25cm; margin: 0 0 8pt 0; orphans: 2; widows: 2; }}
.end {{ break-inside: avoid; }}
.sig {{ display: flex; justify-content: space-between; align-items: flex-end; margin-top: 0.4cm; }}
.sig .qr {{ width: 3.4cm; text-align: center; font-size: 7.5pt; line-height: 9pt; color: #5a5a5a; }}
.sig .qr img {{ width: 2.8cm; height: 2.8cm; display: block; margin: 0 auto 2pt; }}
.sig .blk {{ width: 8cm; text-align: center; line-height: 15pt; }}
.sig .space {{ height: 2.6cm; }} .sig .n {{ font-weight: bold; text-decoration: underline; }}
"""


def _css_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _render_weasyprint(letter) -> bytes:
    import weasyprint

    c = _common(letter)
    r = c["r"]
    e = html.escape
    lh = letter.letterhead
    draft, number = c["draft"], c["number"]
    header_number = f"{number} (DRAF)" if draft else number
    watermark = (
        '@top-center { content: "DRAF"; }' if draft else ""
    )  # a rotated background watermark needs an extra positioned element; the label stands in
    css = _WEASY_CSS.format(
        regular=c["fonts"][0].as_uri(),
        bold=c["fonts"][1].as_uri(),
        kecamatan=_css_string(lh.kecamatan),
        number=_css_string(header_number),
        watermark=watermark,
    )

    def br(s: str) -> str:
        return "<br>".join(e(line) for line in s.split("\n"))

    qr = ""
    if letter.verify_url:
        data = base64.b64encode(_qr_png(letter.verify_url)).decode()
        qr = f'<div class="qr"><img src="data:image/png;base64,{data}">{e(r.QR_CAPTION)}</div>'
    rows = "".join(
        f'<tr><td class="l">{e(k)}</td><td class="c">:</td><td>{e(v)}</td></tr>'
        for k, v in (
            ("Nomor", number),
            ("Sifat", letter.sifat),
            ("Lampiran", letter.lampiran),
            ("Perihal", letter.perihal),
        )
    )
    body = "".join(f'<p class="b">{br(p)}</p>' for p in c["paragraphs"])
    s = letter.signer
    doc = f"""<!doctype html><html lang="id"><head><meta charset="utf-8"><title>{e(letter.perihal)}</title>
<style>{css}</style></head><body>
<div class="kop"><div class="p">{e(lh.pemerintah)}</div><div class="k">{e(lh.kecamatan)}</div>
<div class="a">{e(lh.address)} &nbsp;Telepon {e(lh.phone or "")}</div></div>
<div class="date">{e(c["date_line"])}</div>
<table class="f">{rows}</table>
<div class="to">Kepada<br>Yth. {e(letter.addressee_name)}<br>di
<div class="i">{br(letter.addressee_address or "Tempat")}</div></div>
{body}
<div class="end"><p class="b">{e(r.CLOSING)}</p>
<div class="sig">{qr or "<div></div>"}<div class="blk">{e(s.title)}<div class="space"></div>
<div class="n">{e(s.name)}</div>{e(s.rank or "")}<br>NIP. {e(s.nip or "")}</div></div></div>
</body></html>"""
    return weasyprint.HTML(string=doc, base_url=str(ROOT)).write_pdf()


# ---------------------------------------------------------------------------------------------------
# Worker: one stack in a fresh interpreter


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(fn: Callable[[], bytes], n: int) -> tuple[list[float], bytes]:
    times, out = [], b""
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def _summary(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {
        "per_s": round(len(s) / sum(s), 1),
        "median_ms": round(statistics.median(s) * 1000, 2),
        "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))] * 1000, 2),
    }


def worker(name: str, n: int, long_n: int, out_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    rss_start = _rss_mib()
    t = time.perf_counter()
    try:
        render = renderer(name)
    except (ImportError, OSError) as exc:  # not installed, or WeasyPrint without pango
        return {"stack": name, "skipped": f"{type(exc).__name__}: {exc}"}
    import_s = time.perf_counter() - t
    rss_import = _rss_mib()
    short, long_, draft = sample_letter(), sample_letter(long=True), sample_letter(draft=True)

    t = time.perf_counter()
    first = render(short)
    cold_first_s = time.perf_counter() - t
    rss_warm = _rss_mib()

    times, out_short = _timed(lambda: render(short), n)
    long_times, out_long = _timed(lambda: render(long_), long_n)
    out_draft = render(draft)
    rss_end = _rss_mib()
    peak = _maxrss_mib()

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, pdf in (("letter", out_short), ("long", out_long), ("draft", out_draft)):
        path = out_dir / f"{name}-{kind}.pdf"
        path.write_bytes(pdf)
        files[kind] = str(path)
    short_summary, long_summary = _summary(times), _summary(long_times)
    return {
        "stack": name,
        "n": n,
        "long_n": long_n,
        "import_s": round(import_s, 3),
        "rss_import_mib": round(rss_import - rss_start, 1),
        "cold_first_s": round(cold_first_s, 3),
        "rss_first_letter_mib": round(rss_warm - rss_import, 1),
        "letters_per_s": short_summary["per_s"],
        "letter_median_ms": short_summary["median_ms"],
        "letter_p95_ms": short_summary["p95_ms"],
        "long_letters_per_s": long_summary["per_s"],
        "long_letter_median_ms": long_summary["median_ms"],
        "peak_rss_increase_mib": round(max(0.0, peak - rss_warm), 1),
        "rss_growth_mib": round(rss_end - rss_warm, 1),
        "rss_total_mib": round(rss_end, 1),
        "bytes_letter": len(out_short),
        "bytes_long": len(out_long),
        "deterministic": first == out_short,
        "files": files,
    }


# ---------------------------------------------------------------------------------------------------
# Parent: run the workers, inspect their PDFs


def inspect(files: dict[str, str]) -> dict[str, Any]:
    from pypdf import PdfReader

    def texts(path: str) -> list[str]:
        return [p.extract_text() for p in PdfReader(path).pages]

    def flat(s: str) -> str:
        return " ".join(s.split())

    letter, long_, draft = texts(files["letter"]), texts(files["long"]), texts(files["draft"])
    reader = PdfReader(files["letter"])
    fonts, embedded = set(), True
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = f.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in f:
                desc = f["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            fonts.add(str(f["/BaseFont"]))
            embedded &= any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    one = flat(" ".join(letter))
    n_long = len(long_)
    return {
        "pages_letter": len(letter),
        "pages_long": n_long,
        "fonts": sorted(fonts),
        "fonts_all_embedded": embedded,
        "apostrophe_names": "Ma'ruf" in one and "NUR'AINI" in one,
        "markup_literal": "<script>alert(1)</script>" in one and "{{7*7}}" in one and "49" not in one,
        "qr_image_page1": sum(1 for p in [reader.pages[len(letter) - 1]] for _ in p.images) >= 1,
        "page_numbers_long": all(f"Halaman {i} dari {n_long}" in t for i, t in enumerate(long_, 1)),
        "running_header_page2": n_long > 1 and "Nomor: 400.14/123/432.312/2026" in long_[1],
        "draft_label": all("DRAF" in t for t in draft),
        "page_number_on_one_page_letter": "Halaman 1 dari 1" in one,
    }


DEPLOYMENT = {
    "reportlab": {
        "pure_pip": True,
        "system_libraries": [],
        "python_packages": "reportlab (pure-Python wheel; pillow, charset-normalizer), segno",
    },
    "fpdf2": {
        "pure_pip": True,
        "system_libraries": [],
        "python_packages": "fpdf2 (pure Python; fonttools, pillow, defusedxml), segno",
    },
    "weasyprint": {
        "pure_pip": False,
        "system_libraries": ["pango >= 1.44 (with harfbuzz, fontconfig, glib)"],
        "python_packages": "weasyprint (cffi, pydyf, fonttools, tinycss2, cssselect2, tinyhtml5, pyphen, "
        "pillow), segno",
    },
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pdf_stacks", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200, help="one-page letters per stack (default 200)")
    p.add_argument("--long-n", type=int, default=30, help="long (3+ page) letters per stack (default 30)")
    p.add_argument("--stacks", default=",".join(STACKS), help="comma-separated subset of " + ",".join(STACKS))
    p.add_argument("--out", type=Path, default=OUT_DIR, help="where the sample PDFs go")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.long_n, args.out)))
        return 0

    results: dict[str, Any] = {}
    failed = False
    for name in [s.strip() for s in args.stacks.split(",") if s.strip()]:
        cmd = [
            sys.executable,
            "-m",
            "bench.pdf_stacks",
            "--worker",
            name,
            "--n",
            str(args.n),
            "--long-n",
            str(args.long_n),
            "--out",
            str(args.out),
        ]
        print(f"pdf_stacks: {name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)  # noqa: PLW1510
        if proc.returncode != 0:
            failed = True
            results[name] = {
                "stack": name,
                "error": proc.stderr.strip().splitlines()[-1:] or ["failed"],
                "deployment": DEPLOYMENT.get(name),
            }
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["deployment"] = DEPLOYMENT.get(name)
        if "skipped" not in res:
            res["checks"] = inspect(res["files"])
        results[name] = res

    base = results.get("reportlab", {})
    ratios = {}
    for name, res in results.items():
        if name != "reportlab" and "letters_per_s" in res and base.get("letters_per_s"):
            ratios[f"{name}_vs_reportlab_letters_per_s"] = round(res["letters_per_s"] / base["letters_per_s"], 2)
            ratios[f"{name}_vs_reportlab_long_per_s"] = round(res["long_letters_per_s"] / base["long_letters_per_s"], 2)
    doc = {
        "benchmark": "pdf_stacks",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "pango": ctypes.util.find_library("pango-1.0"),
        },
        "ratios": ratios,
        "results": results,
    }
    print(json.dumps(doc, indent=2))
    for name, res in results.items():
        if "error" in res or "skipped" in res:
            print(
                f"{name:11s} {'ERROR' if 'error' in res else 'skipped'} {res.get('error') or res.get('skipped')}",
                file=sys.stderr,
            )
        else:
            print(
                f"{name:11s} {res['letters_per_s']:7.1f} letters/s  {res['long_letters_per_s']:6.1f} long/s  "
                f"peak +{res['peak_rss_increase_mib']:5.1f} MiB  import {res['rss_import_mib']:5.1f} MiB "
                f"{res['import_s']:.2f}s  {res['bytes_letter'] / 1024:5.1f} KiB / "
                f"{res['checks']['pages_long']} p {res['bytes_long'] / 1024:5.1f} KiB",
                file=sys.stderr,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
