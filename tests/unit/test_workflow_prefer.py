"""``Prefer`` (RFC 7240) on an SOP action: which headers ask for the minimal answer."""

from __future__ import annotations

import pytest

from services.workflow.entrypoints.complaints import minimal


@pytest.mark.parametrize(
    "header",
    [
        "return=minimal",
        "Return=Minimal",
        'return="minimal"',
        " respond-async , return = minimal ",
        "return=minimal; x=1",
    ],
)
def test_these_ask_for_the_minimal_answer(header):
    assert minimal(header)


@pytest.mark.parametrize(
    "header", [None, "", "return=representation", "return", "minimal", "return=minimalist", "handling=lenient", ","]
)
def test_these_get_the_whole_complaint(header):
    assert not minimal(header)
