"""The public statistics' disclosure rules (services/dashboard/domain/statistics.py, ADR 0022), on tables of
counts: the threshold rule, complementary suppression over rows, columns and the grand total, and the solver that
finds what the published cells still fix exactly."""

from __future__ import annotations

import random

import pytest

from services.dashboard.domain import statistics as rules

K = 5
T = "*"


def table(cells: dict[tuple[str, str], int]):
    """``(row, column) -> received`` as the answer's groups, with the row, column and grand totals."""
    rows = sorted({r for r, _ in cells})
    columns = sorted({c for _, c in cells})
    counted = {key: rules.Counted(received=n) for key, n in cells.items()}
    for r in rows:
        counted[(r, T)] = rules.Counted(received=sum(cells[(r, c)] for c in columns))
    for c in columns:
        counted[(T, c)] = rules.Counted(received=sum(cells[(r, c)] for r in rows))
    counted[(T, T)] = rules.Counted(received=sum(cells.values()))
    sums = [
        *(rules.Sum((r, T), tuple((r, c) for c in columns)) for r in rows),
        *(rules.Sum((T, c), tuple((r, c) for r in rows)) for c in columns),
        rules.Sum((T, T), tuple((r, T) for r in rows)),
        rules.Sum((T, T), tuple((T, c) for c in columns)),
    ]
    groups = {key: rules.primary(value, K) for key, value in counted.items()}
    return groups, counted, sums


def withheld(groups) -> set:
    return {key for key, g in groups.items() if g["received"].suppressed}


def test_the_threshold_rule():
    published = rules.primary(
        rules.Counted(received=4, resolved=0, closed=6, closed_within=5, median_days=3.25, median_base=4), K
    )
    assert published["received"] == rules.Cell(None, True)  # 1..4: withheld
    assert published["resolved"] == rules.Cell(0)  # zero is shown
    assert published["closed"] == rules.Cell(6)
    assert published["within_sla_share"] == rules.Cell(0.833)  # over six closed
    assert published["median_days"] == rules.Cell(None, True)  # over four
    assert published["satisfied_share"] == rules.Cell(None)  # nobody answered: nothing to withhold


def test_a_lone_small_cell_gets_a_complement_in_its_row_and_column():
    groups, counted, sums = table({("a", "1"): 3, ("a", "2"): 10, ("b", "1"): 9, ("b", "2"): 12})
    rules.complementary(groups, counted, sums, K)
    hidden = withheld(groups)
    assert ("a", "1") in hidden and ("a", "2") in hidden and ("b", "1") in hidden  # row a, column 1
    for s in sums:
        assert sum(m in hidden for m in (*s.parts, s.total)) != 1


def test_the_solver_finds_a_cell_that_linked_sums_fix():
    """Two sums each with two withheld members can still fix one: x + y = 8 and x + y + z = 16 give z = 8."""
    counted = {key: rules.Counted(received=n) for key, n in {"x": 3, "y": 5, "z": 8, "s1": 8, "s2": 16}.items()}
    groups = {key: rules.primary(value, K) for key, value in counted.items()}
    for key in ("y", "z"):
        groups[key].withhold("received")
    sums = [rules.Sum("s1", ("x", "y")), rules.Sum("s2", ("x", "y", "z"))]
    assert rules.determined(groups, sums, "received") == ["z"]
    # a single row of two months: each month's column total is its one cell (the second's, 3, withheld by the
    # threshold), so the first is fixed by its column, then the second by the row, and its column total with it...
    groups, counted, sums = table({("a", "1"): 12, ("a", "2"): 3})
    for key in (("a", "1"), ("a", "2")):
        groups[key].withhold("received")
    assert set(rules.determined(groups, sums, "received")) == {("a", "1"), ("a", "2"), (T, "2")}
    # ...unless the column totals are withheld too
    for key in ((T, "1"), (T, "2")):
        groups[key].withhold("received")
    assert rules.determined(groups, sums, "received") == []


@pytest.mark.parametrize("seed", range(40))
def test_no_small_count_can_be_solved_from_what_is_published(seed):
    rng = random.Random(seed)
    rows, columns = rng.randint(1, 6), rng.randint(1, 8)
    cells = {
        (f"k{r}", f"m{c:02d}"): rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 40])
        for r in range(rows)
        for c in range(columns)
    }
    groups, counted, sums = table(cells)
    rules.complementary(groups, counted, sums, K)
    hidden = withheld(groups)
    for s in sums:
        assert sum(m in hidden for m in (*s.parts, s.total)) != 1
    fixed = rules.determined(groups, sums, "received")
    assert not [m for m in fixed if 0 < counted[m].received < K], (cells, fixed)
    # every small count is withheld, and what is shown is the true count
    for key, g in groups.items():
        n = counted[key].received
        assert g["received"].suppressed or g["received"].value == n
        if 0 < n < K:
            assert g["received"].suppressed


def test_a_derived_figure_goes_with_its_count():
    published = rules.primary(rules.Counted(received=9, resolved=7, median_days=2.0, median_base=7), K)
    published.withhold("resolved")
    rules.link_derived([published])
    assert published["median_days"] == rules.Cell(None, True)


def test_a_total_outside_the_tables_is_shown_only_where_its_parts_are():
    """add_up: a total over a period other than whole years (or a selection other than whole kabupaten) is the
    sum of cells published anyway, or withheld: two answers subtracted never give more than the cells."""
    shown = rules.primary(rules.Counted(received=12, resolved=6, median_days=2.0, median_base=6), K)
    small = rules.primary(rules.Counted(received=3, resolved=3, median_days=1.0, median_base=3), K)
    total = rules.Counted(received=15, resolved=9, median_days=1.5, median_base=9)
    out = rules.add_up([[shown, small]], total, K)
    assert out["received"] == rules.Cell(None, True) and out["resolved"] == rules.Cell(None, True)
    assert out["median_days"] == rules.Cell(None, True)  # goes with its count
    # another way of adding it up with every part shown (e.g. the kabupaten's months): then it is shown
    month_totals = [
        rules.primary(rules.Counted(received=8, resolved=5), K),
        rules.primary(rules.Counted(received=7, resolved=4), K),
    ]
    out = rules.add_up([[shown, small], month_totals], total, K)
    assert out["resolved"] == rules.Cell(None, True)  # 4 of the months' is withheld: no way adds it up
    assert out["received"] == rules.Cell(None, True)  # rule 4: withheld with it (it would bound it)
    both = [
        rules.primary(rules.Counted(received=8, resolved=5), K),
        rules.primary(rules.Counted(received=7, resolved=5), K),
    ]
    out = rules.add_up([[shown, small], both], rules.Counted(received=15, resolved=10), K)
    assert (out["received"], out["resolved"]) == (rules.Cell(15), rules.Cell(10))  # every part shown: shown
    assert rules.add_up([[shown]], rules.Counted(received=12, resolved=6, median_days=2.0, median_base=6), K)[
        "median_days"
    ] == rules.Cell(2.0)


def test_protect_is_the_three_rules_on_one_table():
    _, counted, sums = table({("a", "1"): 3, ("a", "2"): 10, ("b", "1"): 9, ("b", "2"): 12})
    protected = rules.protect(counted, sums, K)
    assert protected[("a", "1")]["received"].suppressed and protected[(T, T)]["received"] == rules.Cell(34)
    for s in sums:
        assert sum(protected[m]["received"].suppressed for m in (*s.parts, s.total)) != 1


def test_a_cells_counts_are_withheld_together_so_that_they_cannot_bound_each_other():
    """The session-12 attack: a kecamatan's small month worked out from the closed counts of the other cells.
    a: January 20 received (all closed), February 1 (open); b: 8 and 8, all closed. Were each count protected
    alone, a's February (1) would follow from a's year (21), January's 28 and the closed counts shown beside the
    withheld received ones (a_Jan >= 20, b_Jan >= 8, so a_Jan = 20 and a_Feb = 1). With a cell's counts withheld
    together no withheld received count has a shown lower bound in its cell."""
    received = {("a", "1"): 20, ("a", "2"): 1, ("b", "1"): 8, ("b", "2"): 8}
    closed = {("a", "1"): 20, ("a", "2"): 0, ("b", "1"): 8, ("b", "2"): 8}
    _, counted, sums = table(received)
    counted = {
        key: rules.Counted(
            received=value.received,
            closed=closed.get(
                key,
                sum(v for kk, v in closed.items() if T in key and (key[0] in (T, kk[0])) and (key[1] in (T, kk[1]))),
            ),
        )
        for key, value in counted.items()
    }
    protected = rules.protect(counted, sums, K)
    for key, g in protected.items():
        if g["received"].suppressed:
            assert all(g[name].suppressed for name in rules.COUNTS), key
    assert protected[("a", "2")]["received"].suppressed
    # what is shown still fixes no small count, by equations or by the bounds of the cell's own counts
    assert [m for m in rules.determined(protected, sums, "received") if 0 < counted[m].received < K] == []
