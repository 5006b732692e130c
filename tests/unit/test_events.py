"""The event envelope and the registry: stable type names, frozen events, upcasting on read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import Actor, Event, EventRegistry, envelope


def test_old_payloads_are_upcast_step_by_step_on_read():
    reg = EventRegistry()

    @reg.register
    class LetterSigned(Event):
        type = "test.LetterSigned"
        schema_version = 3
        signer_name: str
        signer_nip: str

    @reg.upcaster("test.LetterSigned", 1)
    def v1_to_v2(p: dict) -> dict:
        return {"signer_name": p["signer"]}

    @reg.upcaster("test.LetterSigned", 2)
    def v2_to_v3(p: dict) -> dict:
        return {**p, "signer_nip": "-"}

    event = reg.decode("test.LetterSigned", 1, {"signer": "Camat Pegantenan"})
    assert event == LetterSigned(signer_name="Camat Pegantenan", signer_nip="-")
    assert reg.decode("test.LetterSigned", 3, {"signer_name": "A", "signer_nip": "1"}).signer_nip == "1"


def test_a_type_name_cannot_be_registered_by_two_classes():
    reg = EventRegistry()

    class A(Event):
        type = "test.Same"

    class B(Event):
        type = "test.Same"

    reg.register(A)
    with pytest.raises(ValueError):
        reg.register(B)


def test_unknown_type_is_an_error_not_a_guess():
    with pytest.raises(KeyError):
        EventRegistry().decode("test.Nope", 1, {})


def test_events_and_envelopes_are_frozen_and_carry_their_stable_type():
    class Happened(Event):
        type = "test.Happened"
        what: str

    e = Happened(what="x")
    with pytest.raises(ValidationError):
        e.what = "y"
    env = envelope(
        e,
        event_id=uuid.uuid4(),
        stream_id="s",
        version=1,
        kecamatan="pegantenan",
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        actor=Actor.system("test"),
        correlation_id=uuid.uuid4(),
    )
    assert env.type == "test.Happened" and env.schema_version == 1 and env.payload == {"what": "x"}
    with pytest.raises(ValidationError):
        env.version = 2
