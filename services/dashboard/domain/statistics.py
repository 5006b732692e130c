"""The public statistics' disclosure rules (ADR 0022): what of the counted figures may be published. Pure.

The figures of one group (a kecamatan's month or year, a kabupaten's month or year) come in as ``Counted``; what
goes out is a ``Cell`` per figure: the value, or null and ``suppressed``.

1. **Threshold rule** (primary suppression): a count of 1 to k-1 complaints is suppressed; so is a share, a
   median or a mean whose base (the complaints it is computed over) is below k. Zero is published: it names
   nobody. A figure with no base at all (nothing closed yet) is null, not suppressed.
2. **Complementary (secondary) suppression** in a protected table (``protect``: a kabupaten's calendar year,
   its kecamatan by month with the margins): a kecamatan's year is the sum of its months, a month of the
   kabupaten the sum of its kecamatan's, the kabupaten's year the sum of either. Wherever one of those sums has
   exactly one withheld member, that member is the total minus the others: a second member is withheld too (the
   smallest non-zero count left, so as little as possible is lost; a total only when no part is left), until no
   sum has exactly one. Then, since the sums share members (a kecamatan's month is in its row and in its
   month's column), they are solved together: a small count that they still fix exactly gets one more cell
   withheld beside it, until none is fixed (``determined``).
3. A share, median or mean is published only when the count it is read against is published too (a share's
   decimals could otherwise tell a withheld count).
4. **Any other total** (a period other than whole years, a few kecamatan of a kabupaten: ``add_up``) is
   published only where it is the sum of cells published anyway, else withheld. So the tables are the same
   whatever is asked, and no two answers together tell more than the tables: one period minus another is a sum
   of published months.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

COUNTS = ("received", "resolved", "closed", "feedback_responses")
DERIVED = ("within_sla_share", "median_days", "satisfied_share", "mean_rating")
FIGURES = COUNTS + DERIVED

# each derived figure: (the count it is read against, which must be published; its own base)
DERIVED_FROM = {
    "within_sla_share": "closed",
    "median_days": "resolved",
    "satisfied_share": "feedback_responses",
    "mean_rating": "feedback_responses",
}


@dataclass(frozen=True)
class Counted:
    """One group's aggregates, as the query counted them."""

    received: int = 0
    resolved: int = 0
    closed: int = 0
    closed_within: int = 0  # closed on or before the 12-working-day deadline
    median_days: float | None = None  # over the resolved ones with their closing time
    median_base: int = 0
    feedback_responses: int = 0
    satisfied: int = 0
    ratings: int = 0
    mean_rating: float | None = None


@dataclass
class Cell:
    value: float | int | None
    suppressed: bool = False


@dataclass
class Published:
    """One group's cells, by figure name (``FIGURES``)."""

    cells: dict[str, Cell] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Cell:
        return self.cells[name]

    def withhold(self, name: str) -> None:
        self.cells[name] = Cell(None, True)


def _count(n: int, k: int) -> Cell:
    return Cell(None, True) if 0 < n < k else Cell(n)


def _derived(value: float | None, base: int, k: int, digits: int) -> Cell:
    if base == 0 or value is None:
        return Cell(None)
    if base < k:
        return Cell(None, True)
    return Cell(round(value, digits))


def primary(counted: Counted, k: int) -> Published:
    """The threshold rule on one group."""
    c = counted
    return Published(
        {
            "received": _count(c.received, k),
            "resolved": _count(c.resolved, k),
            "closed": _count(c.closed, k),
            "feedback_responses": _count(c.feedback_responses, k),
            "within_sla_share": _derived(c.closed_within / c.closed if c.closed else None, c.closed, k, 3),
            "median_days": _derived(c.median_days, c.median_base, k, 1),
            "satisfied_share": _derived(
                c.satisfied / c.feedback_responses if c.feedback_responses else None, c.feedback_responses, k, 3
            ),
            "mean_rating": _derived(c.mean_rating, c.ratings, k, 2),
        }
    )


@dataclass(frozen=True)
class Sum:
    """An additive relation between published groups: ``total`` is the sum of ``parts`` (group keys)."""

    total: Hashable
    parts: tuple[Hashable, ...]


def complementary(
    groups: dict[Hashable, Published], counted: dict[Hashable, Counted], sums: Sequence[Sum], k: int
) -> dict[str, int]:
    """Secondary suppression of every count figure over ``sums``, in place; how many cells it withheld, by
    figure. ``counted`` gives the true values (to pick the smallest complement).

    First no sum may have exactly one withheld member; then the sums are solved together (``determined``): where
    the rows, columns and totals shown still pin a small count down exactly (a withheld cell of two linked sums),
    one more cell beside it is withheld, and both steps run again until nothing small can be solved."""
    added: dict[str, int] = {}
    for name in COUNTS:
        while True:
            for s in _lone_withheld(groups, sums, name):
                groups[_complement(s, name, groups, counted)].withhold(name)
                added[name] = added.get(name, 0) + 1
            small = [
                m for m in determined(groups, sums, name) if 0 < getattr(counted[m], name) < k
            ]  # a small count the published figures give away
            extra = _beside(small, name, groups, counted, sums)
            if extra is None:
                break
            groups[extra].withhold(name)
            added[name] = added.get(name, 0) + 1
    return added


def _lone_withheld(groups: dict[Hashable, Published], sums: Sequence[Sum], name: str) -> Iterable[Sum]:
    """Each sum with exactly one withheld member, again and again until there is none (a caller withholds a
    second member of each before asking for the next)."""
    changed = True
    while changed:
        changed = False
        for s in sums:
            if sum(groups[m][name].suppressed for m in (*s.parts, s.total)) == 1:
                changed = True
                yield s


def determined(groups: dict[Hashable, Published], sums: Sequence[Sum], name: str) -> list[Hashable]:
    """The withheld cells of ``name`` whose values the published cells fix exactly: every sum is an equation in
    its withheld members (the shown ones are constants); a withheld cell is determined when its unit vector is in
    the equations' row space, i.e. a row of the reduced row echelon form has it as its only term."""
    index: dict[Hashable, int] = {}
    equations: list[dict[int, Fraction]] = []
    for s in sums:
        row: dict[int, Fraction] = {}
        for member, sign in [*((p, 1) for p in s.parts), (s.total, -1)]:
            if groups[member][name].suppressed:
                i = index.setdefault(member, len(index))
                row[i] = row.get(i, Fraction(0)) + sign
        row = {i: v for i, v in row.items() if v}
        if row:
            equations.append(row)
    pivots: dict[int, dict[int, Fraction]] = {}
    for equation in equations:
        r = dict(equation)
        for col, prow in pivots.items():
            if col in r:
                _subtract(r, prow, r[col])
        if not r:
            continue
        col = min(r)
        lead = r[col]
        r = {i: v / lead for i, v in r.items()}
        for prow in pivots.values():
            if col in prow:
                _subtract(prow, r, prow[col])
        pivots[col] = r
    members = {i: m for m, i in index.items()}
    return [members[col] for col, prow in pivots.items() if len(prow) == 1]


def _subtract(row: dict[int, Fraction], other: dict[int, Fraction], factor: Fraction) -> None:
    for i, v in other.items():
        value = row.get(i, Fraction(0)) - factor * v
        if value:
            row[i] = value
        else:
            row.pop(i, None)


def _beside(
    cells: list[Hashable],
    name: str,
    groups: dict[Hashable, Published],
    counted: dict[Hashable, Counted],
    sums: Sequence[Sum],
) -> Hashable | None:
    """A shown member to withhold so that the first of ``cells`` is no longer determined: the smallest non-zero
    part of a sum it belongs to (else any shown member of one)."""
    for cell in cells:
        shown = [
            m
            for s in sums
            if cell in (*s.parts, s.total)
            for m in (*s.parts, s.total)
            if not groups[m][name].suppressed
        ]
        if shown:
            nonzero = [m for m in shown if getattr(counted[m], name) > 0]
            return min(nonzero or shown, key=lambda m: getattr(counted[m], name))
    return None


def _complement(s: Sum, name: str, groups: dict[Hashable, Published], counted: dict[Hashable, Counted]) -> Hashable:
    """The member to withhold beside the one already withheld: the part with the smallest non-zero count (the
    first of equals, so the answer is the same each time), else a zero part, else the total."""
    open_parts = [p for p in s.parts if not groups[p][name].suppressed]
    nonzero = [p for p in open_parts if getattr(counted[p], name) > 0]
    if nonzero:
        return min(nonzero, key=lambda p: getattr(counted[p], name))
    if open_parts:
        return open_parts[0]
    return s.total


def protect(counted: dict[Hashable, Counted], sums: Sequence[Sum], k: int) -> dict[Hashable, Published]:
    """One table's cells under rules 1-4: complementary suppression of each count, and a cell's counts withheld
    together (``together``), again until neither withholds anything more."""
    groups = {key: primary(value, k) for key, value in counted.items()}
    while True:
        complementary(groups, counted, sums, k)
        if not together(groups.values()):
            break
    link_derived(groups.values())
    return groups


def together(groups: Iterable[Published]) -> bool:
    """Rule 4: a cell with one count withheld has all its counts withheld. Its counts bound each other (received >=
    closed >= resolved, resolved >= the answers): a closed count shown beside a withheld received one is a lower
    bound of it, and bounds summed over a row or a column can pin a small count down exactly (the session-12
    attack: a kecamatan's withheld month worked out from the closed counts of the others). Whether anything
    changed."""
    changed = False
    for g in groups:
        if any(g[name].suppressed for name in COUNTS):
            for name in COUNTS:
                if not g[name].suppressed:
                    g.withhold(name)
                    changed = True
    return changed


def add_up(decompositions: Sequence[Sequence[Published]], total: Counted, k: int) -> Published:
    """A total that is no cell of a protected table (a period other than whole years, a selection other than whole
    kabupaten): each count only where one of its ``decompositions`` into published cells has every part
    published (it is then their sum, and tells nothing they do not); its share, median and mean with it."""
    out = primary(total, k)
    for name in COUNTS:
        if not any(all(not part[name].suppressed for part in parts) for parts in decompositions):
            out.withhold(name)
    together([out])
    link_derived([out])
    return out


def link_derived(groups: Iterable[Published]) -> None:
    """Rule 3: a derived figure goes with the count it is read against."""
    for g in groups:
        for name, count in DERIVED_FROM.items():
            if g[count].suppressed and not g[name].suppressed and g[name].value is not None:
                g.withhold(name)
