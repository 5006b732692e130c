"""docs/start-here.md's worked examples run as written (doctest): the newcomer's guide cannot drift from the code."""

from __future__ import annotations

import doctest
from pathlib import Path

START_HERE = Path(__file__).resolve().parents[2] / "docs" / "start-here.md"


def test_every_example_in_start_here_runs_as_written():
    result = doctest.testfile(
        str(START_HERE),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted >= 25  # the examples are there (an empty file would pass with 0 failures)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {START_HERE.name} failed (see the output)"
    )
