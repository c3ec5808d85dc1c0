"""The Lambda entry point of every API function (``lambda_handler_for``): logs, the guards, the endpoint, the
answer or problem, the request's metrics. The arguments functions declare are ``arguments.py``'s, binding a
request to a handler is ``endpoint.py``'s (pydantic, one route per function)."""

from __future__ import annotations

from typing import Any

from emma_events import settles_init
from emma_events.deadline import set_deadline
from emma_events.endpoint import Endpoint, Request, Response, route
from emma_events.errors import ApiError
from emma_events.guards import refuse_body, refuse_foreign_account
from emma_events.observability import count, logger, metrics, write_metrics
from emma_events.responses import answer, problem, unexpected

__all__ = ["Endpoint", "Request", "Response", "count", "lambda_handler_for", "route"]

#: Time kept for answering after the last DynamoDB call (serializing, logging) within the function's timeout.
ANSWER_MARGIN_S = 0.5


def lambda_handler_for(endpoint: Endpoint) -> Any:
    """The Lambda entry point of every API function: structured logs with the request id, the account check,
    the body check, then the endpoint (binding and handler); one ``Requests2xx``/``4xx``/``5xx`` metric per
    request, with the account id as a property of the metrics document (not a dimension: one metric per account
    would cost more than the API)."""
    from aws_lambda_powertools.logging import correlation_paths

    @settles_init
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        account = (event.get("pathParameters") or {}).get("account_id")
        if account is not None:
            metrics.add_metadata(key="account_id", value=str(account))
        status = 500
        try:
            proxy = refuse_foreign_account(event) or refuse_body(event)
            if proxy is None:
                set_deadline(context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_S)
                try:
                    proxy = answer(endpoint(event))
                except ApiError as error:
                    proxy = problem(error)
                except Exception:
                    proxy = unexpected()
                finally:
                    set_deadline(None)
            status = proxy["statusCode"]
            return proxy
        finally:  # an exception that escapes is Lambda's error, API Gateway's 502: a 5xx
            count(f"Requests{min(status // 100, 5)}xx")
            write_metrics()

    return lambda_handler
