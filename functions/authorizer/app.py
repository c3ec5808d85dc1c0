"""The API's Lambda REQUEST authorizer: HTTP Basic with an account's public and private API keys.

Unknown, malformed, wrong or revoked credentials raise ``Unauthorized`` (API Gateway answers 401). Valid ones
get a policy allowing only their account's paths, so a valid key used on another account's path is denied by
API Gateway itself (403), also when the decision comes from the authorizer cache. Nothing here logs a key.

Lambda counts every refusal in the function's ``Errors``: each also writes one ``CredentialsRefused`` metric (embedded
in the output, whatever the log level), which the Errors alarm subtracts and the spike alarm counts.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emma_events import settles_init
from emma_events.auth import allow_policy, matches, parse_basic
from emma_events.config import METRICS_NAMESPACE
from emma_events.gateway import header
from emma_events.stores import api_keys

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)


class Unauthorized(Exception):
    """The exact message API Gateway turns into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def refuse(reason: str, context: Any) -> Unauthorized:
    """Log and count a refusal; the caller raises what this returns."""
    logger.info("rejected", extra={"reason": reason})
    metrics.add_dimension(name="FunctionName", value=context.function_name)
    metrics.add_metric(name="CredentialsRefused", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return Unauthorized()


@settles_init
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    credentials = parse_basic(header(event, "authorization"))
    if credentials is None:
        raise refuse("missing or malformed credentials", context)
    stored = api_keys().find_api_key(credentials.public_key)
    if stored is None or stored.revoked or not matches(stored, credentials.private_key):
        raise refuse("unknown, revoked or wrong key", context)
    return allow_policy(event["methodArn"], stored.account_id, stored.public_key, stored.usage_key)
