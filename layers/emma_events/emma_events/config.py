"""Configuration enters at the edge: environment variables set by template.yaml, read once per container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str

    @classmethod
    def from_environ(cls) -> Settings:
        try:
            return cls(table_name=os.environ["TABLE_NAME"])
        except KeyError as missing:
            raise RuntimeError(f"environment variable {missing} is not set (template.yaml sets it)") from None


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environ()
