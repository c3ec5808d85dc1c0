"""What the local stack shows to whom: nothing a deployed stack would not.

- ``/_local/*`` (the stand-in EventBridge, which holds every account's events) answers loopback clients only.
- A ``Host`` that is neither the address the stack serves nor ``localhost`` is a 421: a web page that rebinds its
  own DNS name to 127.0.0.1 cannot talk to the stack (its requests carry that name).
- The stack refuses to listen beyond loopback with the well-known development key, and the embedded DynamoDB
  (no authentication: whoever reaches it can write a key item and mint credentials) refuses every interface.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

LOCAL_PREFIX = "/_local/"
EVERY_INTERFACE = ("0.0.0.0", "::", "")  # noqa: S104 - bind addresses, compared, not used


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def host_name(header: str) -> str:
    """The name of a ``Host`` header without its port (``[::1]:3000`` -> ``[::1]``)."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_is_served(header: str | None, served: str) -> bool:
    """Whether a request's ``Host`` names the stack: its bind address or ``localhost``; on every interface, any IP
    literal too (what DNS rebinding needs is a name, and a name is what it cannot have here)."""
    name = host_name((header or "").strip().lower()).strip("[]")
    if name in (served.lower().strip("[]"), "localhost"):
        return True
    return bool(name) and served in EVERY_INTERFACE and _is_ip_literal(name)


def refusal(path: str, host_header: str | None, remote_addr: str | None, served: str) -> tuple[int, str] | None:
    """(status, problem document) for a request the stack must not serve, else None."""
    if not host_is_served(host_header, served):
        return 421, _problem(421, "Misdirected Request", f"This server does not serve the host {host_header!r}.")
    if path.startswith(LOCAL_PREFIX) and not is_loopback(remote_addr or ""):
        return 403, _problem(403, "Forbidden", "The local stack's /_local/ routes answer this machine only.")
    return None


def _problem(status: int, title: str, detail: str) -> str:
    slug = title.lower().replace(" ", "-")
    return json.dumps({"type": f"urn:emma-events:problem:{slug}", "title": title, "status": status, "detail": detail})


def listen_refusal(host: str, dynamodb_host: str, api_keys: str | None) -> str | None:
    """The one line saying why the stack will not start on these addresses, else None."""
    if not is_loopback(host) and not api_keys:
        return (
            f"refusing to serve on {host}, beyond this machine, with the well-known development key: set "
            "LOCAL_API_KEYS=account:public:private (keys of your own), or serve on 127.0.0.1"
        )
    if dynamodb_host in EVERY_INTERFACE:
        return (
            "refusing to start the embedded DynamoDB on every interface (it has no authentication: anyone who reaches"
            " it can mint API keys): give the Docker bridge's address, DYNAMODB_HOST=$(ip -4 -o addr show docker0 |"
            " awk '{print $4}' | cut -d/ -f1)"
        )
    return None


def install(app: Any, served: str) -> None:
    """The guard, as the first ``before_request`` of the stack's Flask app."""
    from flask import Response, request

    def guard() -> Any:
        refused = refusal(request.path, request.headers.get("Host"), request.remote_addr, served)
        if refused is None:
            return None
        status, body = refused
        return Response(body, status, mimetype="application/problem+json")

    app.before_request_funcs.setdefault(None, []).insert(0, guard)
