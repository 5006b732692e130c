"""The letters service, as the composition root (``pengaduan/``) sees it: its API and its worker's tasks."""

from __future__ import annotations

from services.letters.adapters import tables
from shared.service import Api, Route, Service


def _consumers():
    from services.letters.entrypoints.worker import CONSUMERS

    return CONSUMERS


def _container():
    from services.letters.bootstrap import for_this_process

    return for_this_process()


SERVICE = Service(
    name="letters",
    api=Api("services.letters.entrypoints.api:create_app", 8003, (Route("/v1/letters/"),)),
    queue="letters",
    consumers=_consumers,
    container=_container,
    inbox=tables.inbox,
    dead_letters=tables.dead_letters,
    handoffs=tables.handoffs,  # LetterDocumentIssued handed to the workflow, until its inbox has it
)
