"""Letters' documents as PDF: data in (``services/letters/domain/``), bytes out. ReportLab (platypus); see
docs/adr/0003-pdf-stack.md.

- ``letters.py``: the official letters, response letter (surat tanggapan, and its drafts) and referral letter
  (surat pelimpahan), in the tata naskah dinas's layout, with room for the digital signature;
- ``forms.py``: the complainant's receipt (tanda terima) and the blank complaint form for the complaint box;
- ``instruments.py``: the SOP's instruments, the Lembar Disposisi and the Kartu Kendali;
- ``layout.py``: what they are all built with (fonts, safe text, kop surat, field tables, signature block, QR
  codes, pages).

Pure: no clock, no network, no files written; the same input gives the same bytes.
"""

from services.letters.adapters.pdf.forms import render_complaint_form, render_receipt
from services.letters.adapters.pdf.instruments import render_control_card, render_disposition_sheet
from services.letters.adapters.pdf.layout import FONT_DIR
from services.letters.adapters.pdf.letters import (
    CLOSING,
    DRAFT_NUMBER,
    QR_CAPTION,
    layout_referral_letter,
    layout_response_letter,
    render_response_letter,
)

__all__ = [
    "CLOSING",
    "DRAFT_NUMBER",
    "FONT_DIR",
    "QR_CAPTION",
    "layout_referral_letter",
    "layout_response_letter",
    "render_complaint_form",
    "render_control_card",
    "render_disposition_sheet",
    "render_receipt",
    "render_response_letter",
]
