"""An API to test end to end over HTTP: a deployed stage (its URL and one account's keys) or a local stack.

    make test-deployed API_URL=https://<api>.execute-api.<region>.amazonaws.com/v1 API_KEYS=<account>:<pub>:<priv>

Every name and address the end-to-end tests write carries the run's tag, and each test deletes what it made.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from devtools.testing.stack_process import Reply, basic, http_request


@dataclass
class Stage:
    base_url: str
    account: int
    credentials: tuple[str, str]
    #: Tags every name and address a run writes, so that what it leaves behind can be told from real data.
    run: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:10]}")

    @classmethod
    def from_environment(cls) -> Stage | None:
        """The stage of E2E_API_URL and E2E_API_KEYS (account:public:private), or None when not given."""
        url, keys = os.environ.get("E2E_API_URL"), os.environ.get("E2E_API_KEYS")
        if not url:
            return None
        if not keys or keys.count(":") < 2:
            raise SystemExit("E2E_API_KEYS must be account:public_key:private_key for E2E_API_URL")
        account, public, private = keys.split(":", 2)
        return cls(url.rstrip("/"), int(account), (public, private))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        credentials: Any = "own",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``path`` below the account (``/events``) unless it starts with ``//`` (then below the stage)."""
        url = self.base_url + (path[1:] if path.startswith("//") else f"/{self.account}{path}")
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        chosen = self.credentials if credentials == "own" else credentials
        if chosen is not None:
            all_headers["Authorization"] = basic(*chosen)
        return http_request(method, url, data, all_headers | (headers or {}))
