"""GET /{account_id}/events/{event_type_id}/stats: a type's events per hour, day, week or month of a time zone."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, EventTypeId, TimeQuery
from emma_events.counts import FIRST, LAST
from emma_events.dates import utc_now
from emma_events.endpoint import InQuery
from emma_events.errors import reject
from emma_events.event_models import TypeStatsBucketResponse
from emma_events.stat_buckets import MAX_BUCKETS, NotQuarterAligned, TooManyBuckets, UnknownZone
from emma_events.stores import event_types

Interval = Annotated[Literal["hour", "day", "week", "month"], InQuery, Field(description="Each bucket's length.")]
Zone = Annotated[
    str,
    InQuery,
    Field(max_length=64, description="The IANA time zone the buckets start in (`America/New_York`).", examples=["UTC"]),
]


@route("GET", "/{account_id}/events/{event_type_id}/stats", "A type's events per interval")
def get_event_type_stats(
    account_id: AccountId,
    event_type_id: EventTypeId,
    since: TimeQuery = None,
    until: TimeQuery = None,
    interval: Interval = "day",
    tz: Zone = "UTC",
) -> list[TypeStatsBucketResponse]:
    from emma_events import stat_buckets

    try:
        zone = stat_buckets.zone(tz)
    except UnknownZone as error:
        reject("query.tz", str(error), "unknown_zone")
    until = until or utc_now()
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and not FIRST <= moment <= LAST:
            reject(f"query.{name}", "must be from 1970-01-01 to 9998-12-31", "out_of_range")
    since = since or stat_buckets.default_since(interval, zone, until)
    if since > until:
        reject("query.until", "must not be before since", "until_before_since")
    try:
        spans = stat_buckets.buckets(interval, zone, since, until)
    except TooManyBuckets:
        reject("query.since", f"the range holds more than {MAX_BUCKETS} buckets of a {interval}", "too_many_buckets")
    except NotQuarterAligned as error:
        reject("query.tz", str(error), "not_quarter_aligned")
    stats = event_types().type_stats(account_id, event_type_id, spans)
    return [TypeStatsBucketResponse.of(bucket) for bucket in stats]


lambda_handler = lambda_handler_for(get_event_type_stats)
