"""Configuration enters at the edge: environment variables set by template.yaml, read once per container."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple


class Settings(NamedTuple):
    table_name: str
    #: The cascade checkpoints and stops when the invocation has less time left than this.
    cascade_time_margin_ms: int
    #: Keys read per Query by the cascade, then deleted 25 at a time.
    cascade_page_size: int
    #: How long after a removal the cascade's final pass starts: the last write of a POST that read the type
    #: before its removal, and the ByType index's lag behind the table, come before it.
    cascade_index_lag_s: float
    #: At most this many keys deleted a second per range of a cascade (0: no limit): a range's keys share one
    #: ``ByType`` key, whose index partition takes 1,000 writes a second on AWS.
    cascade_key_writes_per_s: float

    @classmethod
    def from_environ(cls) -> Settings:
        try:
            return cls(
                table_name=os.environ["TABLE_NAME"],
                cascade_time_margin_ms=int(os.environ.get("CASCADE_TIME_MARGIN_MS", "60000")),
                cascade_page_size=int(os.environ.get("CASCADE_PAGE_SIZE", "1000")),
                cascade_index_lag_s=cascade_index_lag_s(),
                cascade_key_writes_per_s=float(os.environ.get("CASCADE_KEY_WRITES_PER_SECOND", "0")),
            )
        except KeyError as missing:
            raise RuntimeError(f"environment variable {missing} is not set (template.yaml sets it)") from None


#: The namespace of every metric (template.yaml sets POWERTOOLS_METRICS_NAMESPACE); with a default, so that a
#: function run without it still answers (Powertools refuses to write metrics without a namespace, and raises).
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "EmmaEvents"


def cascade_index_lag_s() -> float:
    """``Settings.cascade_index_lag_s``, also for the operator's tools (which have no table in their environment)."""
    return float(os.environ.get("CASCADE_INDEX_LAG_SECONDS", "20"))


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environ()
