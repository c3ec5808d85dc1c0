"""A member's counts: whatever events a member has and whatever range is asked, the count items that
``counts.plan`` names, plus the events of the hours it leaves to be read, add up to exactly the events in the
range; and a range costs at most six items, the whole years' Query and two part-hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emma_events import counts
from emma_events.domain import MemberEvent

moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
#: Times that fall on the boundaries the plan splits at (hours, days, months, years) and a second either side.
edges = st.builds(
    lambda year, month, day, hour, shift: datetime(year, month, day, hour, tzinfo=UTC) + timedelta(seconds=shift),
    st.integers(1970, 2027), st.integers(1, 12), st.sampled_from([1, 28]), st.sampled_from([0, 23]),
    st.sampled_from([-1, 0, 1]),
)  # fmt: skip
times = st.one_of(moments, edges)


def event(at: datetime, type_id: int) -> MemberEvent:
    return MemberEvent(1, 1, 1, type_id, at, at, 1.5, None, None)


def stored(events: list[MemberEvent]) -> dict[str, dict[str, Any]]:
    """The count items the events leave, by sort key, as DynamoDB returns them."""
    items: dict[str, dict[str, Any]] = {}
    for (_, sk), added in counts.increments(events).items():
        items[sk] = {name: {"N": str(value)} for name, value in added.items()}
    return items


def counted(events: list[MemberEvent], since: datetime | None, until: datetime | None, type_id: int | None) -> int:
    plan = counts.plan(since, until)
    scope = counts.scope_of(type_id)
    items = stored(events)
    assert sum(len(names) > 0 for names in plan.items.values()) <= 6
    assert len(plan.edges) <= 2
    mine = {
        sk.removeprefix(counts.count_sk(scope, "")): item
        for sk, item in items.items()
        if sk.startswith(counts.count_sk(scope, ""))
    }
    years = []
    if plan.years:
        first, last = plan.years
        years = [item for period, item in mine.items() if period.startswith("Y#") and first <= int(period[2:]) <= last]
    in_edges = sum(
        1
        for e in events
        for low, high in plan.edges
        if low <= e.event_timestamp <= high and type_id in (None, e.event_type_id)
    )
    return counts.total(plan, mine, years) + in_edges


@settings(max_examples=300, deadline=None)
@given(
    at=st.lists(
        st.tuples(times.filter(lambda t: t >= counts.FIRST), st.integers(1, 3)), max_size=30
    ),  # events: 1970 on
    since=st.none() | times,
    until=st.none() | times,
    type_id=st.none() | st.integers(1, 3),
)
def test_the_counts_of_any_range_are_exact(
    at: list[tuple[datetime, int]], since: Any, until: Any, type_id: Any
) -> None:
    events = [event(t, k) for t, k in at]
    expected = sum(
        1
        for e in events
        if (since is None or e.event_timestamp >= since)
        and (until is None or e.event_timestamp <= until)
        and type_id in (None, e.event_type_id)
    )
    assert counted(events, since, until, type_id) == expected
