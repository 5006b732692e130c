"""Messages between the letters service and the workflow. Contracts: add fields, never rename.

- ``LetterDocumentIssued``: letters to the workflow (a task), the signed response letter exists.
- ``EsignLetter``: the workflow to letters (an HTTP request, ``POST /internal/letters/esign``), at step 10 where the
  kecamatan signs through BSrE: render the numbered letter and have BSrE sign it with the passphrase the signer
  just typed, before the workflow records the signature (docs/adr/0016). The passphrase goes no further than
  letters' call to BSrE: never stored, never logged, never in an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Final
from uuid import UUID

from pydantic import Field, SecretStr

from shared.events import Actor, Contract

# the kecamatan setting that makes step 10 a signature through BSrE (``signature_service``; absent: "local", the
# kecamatan's own PAdES key, signed by the letters worker after the workflow recorded the signature)
SIGNATURE_SERVICE_SETTING: Final = "signature_service"
BSRE: Final = "bsre"
ESIGN_PATH: Final = "/internal/letters/esign"  # letters' internal route: the gateway and nginx never route it
# what a refused or failed signature answers (letters' status and code; the workflow passes them on)
ESIGN_ERRORS: Final = {
    "passphrase_required": 422,  # no passphrase typed
    "wrong_passphrase": 422,  # BSrE refused the passphrase: nothing recorded, the complaint stays at step 10
    "signer_without_nik": 422,  # the signer's account has no NIK registered for BSrE (an admin sets it)
    "signer_not_registered": 422,  # BSrE knows no valid certificate for that NIK
    "esign_unavailable": 503,  # BSrE (or letters) could not be reached after retries: try again later
    "esign_rejected": 502,  # BSrE refused the request itself (the kabupaten's client credentials, a bad answer)
    "letter_not_ready": 409,  # the complaint is not waiting for this letter's signature
}


class LetterDocumentIssued(Contract):
    """The signed response letter exists: rendered with its number, PAdES-signed, stored. The document
    row in ``letters.documents`` is committed before this message is sent."""

    TASK: ClassVar[str] = "workflow.record_letter_document"
    QUEUE: ClassVar[str] = "workflow"

    message_id: UUID  # = the document id: a resend is recognised
    complaint_id: UUID
    kecamatan: str
    document_id: UUID
    letter_version: int
    letter_number: str
    sha256: str
    size: int
    verify_url: str


class EsignLetter(Contract):
    """Render the response letter as it will be signed at step 10 and have BSrE sign it (letters answers 201 with
    the stored PDF's ``sha256`` and ``size``, or an error of ``ESIGN_ERRORS``). ``event_id`` is the id the
    workflow's ``LetterSigned`` will have: letters keeps the signed PDF under it, and its worker makes it the
    letter's document when that event arrives. The same request again answers the PDF kept (no second signature).
    """

    event_id: UUID
    complaint_id: UUID
    kecamatan: str
    letter_version: int
    letter_number: str
    signed_at: datetime  # the event's occurred_at: the letter is dated this day in the kecamatan's zone
    actor: Actor  # as the event will record it (the signer, and the role acted for under a delegation or a.n.)
    passphrase: SecretStr = Field(repr=False, max_length=200)
    # when the workflow stops waiting: letters starts no try of BSrE that could not end by then
    deadline: datetime | None = None


# The header the workflow signs an EsignLetter body with (HMAC-SHA256 under the deployment's secret key, hex): the
# letters route takes only what the workflow decided, never a body a signed-in user composed themselves
ESIGN_SIGNATURE_HEADER: Final = "X-Pengaduan-Esign"


def esign_signature(secret_key: str, body: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(f"esign:{secret_key}".encode(), body, hashlib.sha256).hexdigest()
