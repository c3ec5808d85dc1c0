"""API credentials, Emma style: a public key (HTTP Basic user) and a private key (HTTP Basic password).

The private key is stored only as a salted HMAC-SHA256 and compared in constant time. Private keys are 128-bit
random values, not passwords people choose, so a slow password hash would add latency without adding safety:
nobody can enumerate 2**128 candidates whatever the hash costs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any, NamedTuple


class Credentials(NamedTuple):
    public_key: str
    private_key: str


class StoredKey(NamedTuple):
    """What the table keeps of a key: never the private key itself."""

    account_id: int
    public_key: str
    salt: str
    digest: str
    revoked: bool
    created_at: str
    usage_key: str | None = None


def new_credentials() -> Credentials:
    """A fresh key pair: 20 hex characters public (as Emma's), 32 hex characters (128 bits) private."""
    return Credentials(secrets.token_hex(10), secrets.token_hex(16))


def digest(salt: str, private_key: str) -> str:
    return hmac.new(bytes.fromhex(salt), private_key.encode(), hashlib.sha256).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def matches(stored: StoredKey, private_key: str) -> bool:
    """Constant-time comparison of the presented private key with the stored digest."""
    return hmac.compare_digest(digest(stored.salt, private_key), stored.digest)


def parse_basic(header: str | None) -> Credentials | None:
    """``Authorization: Basic base64(public:private)``, or None when absent or malformed."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    public, separator, private = decoded.partition(":")
    if not separator or not public or not private or len(public) > 128 or len(private) > 128:
        return None
    return Credentials(public, private)


#: Every HTTP method the API's routes use. The policy names each one, so no wildcard ever stands before the
#: account segment (tests/handlers/test_tenant_isolation.py checks this list against template.yaml's routes).
API_METHODS = ("DELETE", "GET", "POST", "PUT")


def allowed_resources(method_arn: str, account_id: int) -> list[str]:
    """The execute-api resources of one account: ``…/<stage>/<METHOD>/<account>`` and ``…/<account>/*``.

    In a policy's resource, as in every IAM resource pattern, ``*`` matches any run of characters *including*
    ``/``. So the account must come right after a literal stage and method: ``…/<stage>/*/1`` would also match
    ``…/<stage>/GET/2/members/1`` (another account's member 1). With the method named, the account is provably
    the first path segment, and the ``/`` after it keeps account 1 from matching account 10's paths.
    """
    arn_prefix, _, path = method_arn.partition("/")  # arn:aws:execute-api:region:acct:api-id / stage/VERB/...
    stage = path.split("/", 1)[0]
    if not stage or any(c in stage for c in "*?"):
        raise ValueError(f"not a method ARN: {method_arn!r}")
    return [
        resource
        for method in API_METHODS
        for resource in (f"{arn_prefix}/{stage}/{method}/{account_id}", f"{arn_prefix}/{stage}/{method}/{account_id}/*")
    ]


def allow_policy(method_arn: str, account_id: int, principal: str, usage_key: str | None) -> dict[str, Any]:
    """An IAM policy allowing only the account's own paths (``allowed_resources``), and the account in the context.

    It does not depend on the path of the request that produced it, so API Gateway may cache it for the
    credentials and serve it for any path: other accounts' paths stay denied. The functions compare the
    context's ``account_id`` with the path's once more (``emma_events.guards``).
    """
    policy: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": allowed_resources(method_arn, account_id),
                }
            ],
        },
        "context": {"account_id": str(account_id)},
    }
    if usage_key:
        policy["usageIdentifierKey"] = usage_key
    return policy
