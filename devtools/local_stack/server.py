"""``make run``: the whole API on localhost, without Docker, on an embedded DynamoDB.

Everything an HTTP request meets is SAM CLI's own code, as in ``sam local start-api``: its stack, function and API
providers read template.yaml; its Flask-based API Gateway emulation matches routes, builds the proxy events,
runs Lambda authorizers and parses the responses. Only the Docker-backed Lambda runtime is replaced, by
``runtime.ProcessRuntime`` (a warm worker process per function). The stream poller plays Lambda's
DynamoDB event source mappings.

The SAM CLI classes used here are internal APIs: aws-sam-cli is pinned exactly, this module is the only place
that touches them, and tests/local_stack/test_sam_glue.py fails with a clear message when an upgrade changes them.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.exceptions import LambdaResponseParseException
from samcli.local.apigw.local_apigw_service import LocalApigwService

from devtools.local_stack import exposure, template
from devtools.local_stack.runtime import FunctionSpec, FunctionTimeout, ProcessRuntime
from devtools.local_stack.state import force_local_credentials, state_file
from devtools.local_stack.store import (
    DEFAULT_DATA_DIR,
    STORES,
    EmbeddedDynamoDB,
    function_environment,
    port_is_free,
)
from devtools.local_stack.stream_poller import StreamPoller, Subscription
from devtools.testing.seeding import DEV_KEY

LOG = logging.getLogger("local_stack")

#: The development key of account 100 that `make run` creates when LOCAL_API_KEYS is unset (docs/security.md).
DEFAULT_LOCAL_API_KEYS = ":".join(map(str, DEV_KEY))


def parse_api_keys(text: str | None) -> list[tuple[int, str, str]]:
    """The development keys of LOCAL_API_KEYS ("account:public:private[,...]"), or account 100's default.

    Raises ``ValueError`` with a one-line message naming the entry and the expected format."""
    keys = []
    for entry in filter(None, (part.strip() for part in (text or DEFAULT_LOCAL_API_KEYS).split(","))):
        account, _, rest = entry.partition(":")
        public, _, private = rest.partition(":")
        if not (account.isdigit() and 0 < int(account) < 2**53 and public and private):
            shown = entry if len(entry) <= 40 else entry[:37] + "..."
            raise ValueError(
                f"LOCAL_API_KEYS: {shown!r} is not account_id:public_key:private_key "
                '(expected e.g. "100:my-public-key:my-private-key,101:other-public:other-private")'
            )
        keys.append((int(account), public, private))
    return keys


class FunctionUnauthorized(Exception):
    """A function failed with the message "Unauthorized": from an authorizer, API Gateway's 401."""


class Unauthenticated(Exception):
    """The authorizer refused the credentials: API Gateway's 401."""

    def __init__(self) -> None:
        super().__init__("the authorizer refused the credentials (401)")


class RefusalIsNotAnError(logging.Filter):
    """SAM logs every authorizer refusal as an ERROR; a 401 (credentials refused) and a 403 (another account's
    path: the policy does not allow it) are normal answers (their access lines say enough)."""

    def filter(self, record: logging.LogRecord) -> bool:
        refusal = str(record.args[0]) if record.args else ""  # type: ignore[index]
        return not (refusal == str(Unauthenticated()) or refusal.startswith("Request is not authorized for "))


#: API Gateway's integration timeout (29 s by default): past it API Gateway answers 504 whatever the function does.
INTEGRATION_TIMEOUT_S = 29.0
GATEWAY_TIMEOUT = json.dumps(
    {
        "statusCode": 504,
        "headers": {"Content-Type": "application/json", "x-amzn-ErrorType": "IntegrationTimeout"},
        "body": json.dumps({"message": "Endpoint request timed out"}),
    }
)


#: The largest body API Gateway (REST) accepts, 10 MiB; and the largest event Lambda accepts for a synchronous
#: invocation, 6 MiB. Past either, API Gateway answers 413 as measured on a stage (docs/api.md, "Limits and
#: rules"), which its gateway responses do not customize.
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
LAMBDA_MAX_EVENT = 6 * 1024 * 1024
PAST_API_GATEWAY = f"HTTP content length exceeded {API_GATEWAY_MAX_BODY} bytes."
PAST_LAMBDA = json.dumps({"message": "Request Too Long"})

#: API Gateway's own answers, by status and message, and the gateway response type that customizes each.
GATEWAY_ANSWERS: dict[tuple[int, str | None], str] = {
    (401, "Unauthorized"): "UNAUTHORIZED",
    (403, "User is not authorized to access this resource"): "ACCESS_DENIED",
    (403, "Missing Authentication Token"): "MISSING_AUTHENTICATION_TOKEN",
    (502, "Internal server error"): "DEFAULT_5XX",
    (504, "Endpoint request timed out"): "INTEGRATION_TIMEOUT",
}


class SamRuntimeAdapter:
    """The ``local_runtime`` that SAM's ``LocalLambdaRunner`` drives, backed by worker processes.

    SAM calls ``invoke(function_config, event, ..., stdout=, stderr=)`` and reads the function's JSON result
    from ``stdout``; a function error is written in Lambda's ``{"errorType", "errorMessage"}`` shape.
    """

    def __init__(self, runtime: ProcessRuntime, extra_env: dict[str, str], template_dir: Path) -> None:
        self.runtime = runtime
        self.extra_env = extra_env
        self.template_dir = template_dir
        self._specs: dict[str, FunctionSpec] = {}

    def spec(self, config: Any) -> FunctionSpec:
        """A worker spec from SAM's ``FunctionConfig``: the template's environment (Globals and function)."""
        if config.name not in self._specs:
            # Only the template's values (no shell overrides): a TABLE_NAME exported in the developer's shell
            # must not point the functions at another table.
            config.env_vars.shell_env_values = {}
            environment = {**config.env_vars.resolve(), **self.extra_env}
            environment.pop("AWS_SESSION_TOKEN", None)
            self._specs[config.name] = FunctionSpec(
                name=config.name,
                code_dir=Path(config.code_abs_path),
                layer_dirs=[(self.template_dir / layer.codeuri).resolve() for layer in config.layers],
                timeout=float(config.timeout or 3),
                environment=environment,
            )
        return self._specs[config.name]

    def invoke(self, function_config: Any, event: str, tenant_id: Any = None, **kwargs: Any) -> None:
        result = self.runtime.invoke(self.spec(function_config), event)
        if result.error and json.loads(result.payload).get("errorMessage") == "Unauthorized":
            raise FunctionUnauthorized
        stdout = kwargs.get("stdout")
        if stdout is not None:
            stdout.write_str(result.payload)
            stdout.flush()


def ignore_further_signals() -> None:
    """From now on SIGINT and SIGTERM do nothing, so that the cleanup runs whole. A handler that does nothing, not
    SIG_IGN: a signal that arrived a moment before is already pending for Python, and Python refuses a pending
    signal whose handler became SIG_IGN meanwhile ("OSError: Signal 15 ignored due to race condition", seen when a
    SIGTERM followed a Ctrl-C on a loaded machine)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _do_nothing)


def _do_nothing(signum: int, frame: Any) -> None:
    pass


def stop_serving(signum: int, frame: Any) -> None:
    """The handler of SIGINT and SIGTERM while the stack serves: stop serving (KeyboardInterrupt), once."""
    ignore_further_signals()
    raise KeyboardInterrupt


class LocalEventBus:
    """EventBridge's PutEvents, locally: what the functions put on any bus, kept in order and served at
    ``GET /_local/eventbridge`` (the local stack only; nothing like it is deployed)."""

    #: Where the functions' EventBridge client is pointed (AWS_ENDPOINT_URL_EVENTBRIDGE), under the stack's own URL.
    API_PATH = "/_local/eventbridge-api"

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_events(self, request: dict[str, Any]) -> dict[str, Any]:
        """PutEvents' answer (AWS JSON 1.1): every entry accepted, each with an id."""
        fields = ("Source", "DetailType", "Detail", "EventBusName")
        accepted = [{field: entry[field] for field in fields if field in entry} for entry in request.get("Entries", [])]
        with self._lock:
            self.entries += accepted
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())} for _ in accepted]}

    def published(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.entries)

    def serve_in_background(self, host: str = "127.0.0.1") -> tuple[str, Any]:
        """Its PutEvents on a port of its own, for a function run without the stack (``make invoke``): the
        endpoint for AWS_ENDPOINT_URL_EVENTBRIDGE, and the server (``shutdown()`` stops it)."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        bus = self

        class PutEvents(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                answer = json.dumps(bus.put_events(request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host, 0), PutEvents)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://{host}:{server.server_address[1]}{self.API_PATH}", server


class GatewayService(LocalApigwService):
    """SAM's local API Gateway, with API Gateway's answers where SAM's differ.

    SAM answers a function error with 500 and an authorizer that raises with 502. API Gateway answers 502
    ("Internal server error") for a function error, as for a malformed response and a function that runs past its
    own timeout (Lambda reports it as an error); 504 only past its own 29 s integration timeout, when the function times
    out; and 401 when the authorizer raises "Unauthorized". (A policy that does not allow the requested resource
    is a 403 in both.)
    """

    _authorizing = threading.local()

    def create(self) -> None:
        super().create()
        from flask import Response, request

        exposure.install(self._app, self.host)  # Host and loopback checks before anything else
        # A body past API Gateway's limit is refused from its Content-Length (or, sent in chunks, once the limit
        # is read), before a byte more is read: one request never holds more than the limit.
        self._app.config["MAX_CONTENT_LENGTH"] = API_GATEWAY_MAX_BODY

        @self._app.errorhandler(413)
        def too_long(error: Any) -> Any:
            return Response(PAST_API_GATEWAY, 413, content_type="text; charset=utf-8", headers={"Connection": "close"})

        self.event_bus = LocalEventBus()

        # The local EventBridge: PutEvents for the functions, and what they published, for this machine only.
        @self._app.post(f"{LocalEventBus.API_PATH}/")
        def put_events() -> Any:
            if request.headers.get("X-Amz-Target") != "AWSEvents.PutEvents":
                return Response(json.dumps({"__type": "UnknownOperationException"}), 400, mimetype="application/json")
            answer = self.event_bus.put_events(json.loads(request.get_data()))
            return Response(json.dumps(answer), mimetype="application/x-amz-json-1.1")

        @self._app.get("/_local/eventbridge")
        def published_events() -> Any:
            return Response(json.dumps(self.event_bus.published()), mimetype="application/json")

        document = template.ROOT / "docs" / "openapi.json"

        # The API's contract, outside the account paths and without credentials (as docs/api.md documents).
        @self._app.get("/openapi.json")
        def openapi() -> Any:
            return Response(document.read_text(), mimetype="application/json")

        @self._app.get("/docs")
        def swagger_ui() -> Any:
            if request.args.get("format") == "json":  # as Powertools' own /docs route answers it
                return openapi()
            from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

            assets = Path(html.__file__).parent
            page = html.generate_swagger_html(
                document.read_text(),
                (assets / "swagger-ui-bundle.min.js").read_text(),
                (assets / "swagger-ui.min.css").read_text(),
                "",
                None,
            )
            return Response(page, mimetype="text/html")

        @self._app.before_request
        def text_body() -> None:
            """API Gateway passes a non-binary body on as text; bytes that are not UTF-8 become U+FFFD there, so the
            function answers (400) instead of SAM's 502 for a body it cannot decode."""
            data = request.get_data(cache=True)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                request._cached_data = data.decode("utf-8", "replace").encode("utf-8")

        @self._app.after_request
        def gateway_answers(response: Any) -> Any:
            """API Gateway's own answers, customized by the template's GatewayResponses as API Gateway does."""
            customized = self._gateway_response(response)
            if not request.path.startswith("/_local/"):  # the requests of callers, not the functions' PutEvents
                LOG.info("%s %s -> %s", request.method, request.full_path.rstrip("?"), customized.status_code)
            return customized

    gateway_responses: dict[str, Any] = {}  # noqa: RUF012 - set per stack from the template

    def _gateway_response(self, response: Any) -> Any:
        if not self.gateway_responses or response.mimetype != "application/json":
            return response
        try:
            body = json.loads(response.get_data(as_text=True))
        except ValueError:
            return response
        message = body.get("message", body.get("Message")) if isinstance(body, dict) and len(body) == 1 else None
        kind = GATEWAY_ANSWERS.get((response.status_code, message))
        custom = self.gateway_responses.get(kind) if kind else None
        if not custom:
            return response
        templates = custom.get("ResponseTemplates", {})
        if "application/json" in templates:
            # The one context variable the templates use: API Gateway's own message, as a quoted JSON string.
            message_string = json.dumps(message or "")
            response.set_data(templates["application/json"].replace("$context.error.messageString", message_string))
        response.status_code = int(custom.get("StatusCode", response.status_code))
        for header, value in custom.get("ResponseParameters", {}).get("Headers", {}).items():
            response.headers[header] = str(value).strip("'")  # API Gateway header values are quoted literals
        return response

    def run(self) -> None:
        """Serve until SIGTERM or Ctrl-C (as SAM's ``run``, whose SIGTERM handler raises again on every further
        signal): the first signal stops serving and the ones that follow are ignored, so the cleanup runs whole."""
        import flask.cli

        flask.cli.show_server_banner = lambda *args: None

        signal.signal(signal.SIGTERM, stop_serving)
        signal.signal(signal.SIGINT, stop_serving)
        self._app.run(threaded=True, host=self.host, port=self.port)

    def _request_handler(self, **kwargs: Any) -> Any:
        from flask import request
        from samcli.local.apigw.service_error_responses import ServiceErrorResponses

        method, endpoint = self.get_request_methods_endpoints(request)
        if self._route_key(method, endpoint) not in self._dict_of_routes:
            # Flask serves HEAD for every GET route; API Gateway has no such method: its missing-route answer.
            return ServiceErrorResponses.route_not_found()
        try:
            return super()._request_handler(**kwargs)
        except Unauthenticated:
            return self.service_response(
                json.dumps({"message": "Unauthorized"}), {"Content-Type": "application/json"}, 401
            )

    def _invoke_parse_lambda_authorizer(self, lambda_authorizer: Any, event: dict, *args: Any, **kwargs: Any) -> None:
        self._authorizing.active = True
        event.pop("body", None)  # SAM passes the body on; API Gateway's REQUEST authorizer event has none
        try:
            super()._invoke_parse_lambda_authorizer(lambda_authorizer, event, *args, **kwargs)
        except FunctionUnauthorized:
            raise Unauthenticated from None
        finally:
            self._authorizing.active = False

    def _invoke_lambda_function(self, lambda_function_name: str, event: dict, tenant_id: Any = None) -> Any:
        authorizing = getattr(self._authorizing, "active", False)  # an authorizer's event carries no body on AWS
        large = len(event.get("body") or "") > LAMBDA_MAX_EVENT // 2  # only then is the event measured
        if not authorizing and large and len(json.dumps(event)) > LAMBDA_MAX_EVENT:
            # Lambda refuses the invocation (RequestEntityTooLargeException); API Gateway answers 413.
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "BadRequestException"}
            return json.dumps({"statusCode": 413, "headers": headers, "body": PAST_LAMBDA})
        try:
            return super()._invoke_lambda_function(lambda_function_name, event, tenant_id)
        except FunctionUnauthorized:
            if authorizing:
                raise
            return ""  # any other function failing this way is a function error: 502
        except LambdaResponseParseException:
            return ""  # unparseable for SAM's proxy parser too: 502, as API Gateway answers a function error
        except FunctionTimeout as timeout:
            LOG.error("%s", timeout)
            # Lambda ends the invocation with an error ("Task timed out"): API Gateway's 502, unless the function's
            # timeout is longer than API Gateway waits (then 504 at 29 s).
            return GATEWAY_TIMEOUT if timeout.after_s >= INTEGRATION_TIMEOUT_S else ""


class LocalStack:
    def __init__(
        self,
        template_path: Path = template.TEMPLATE,
        host: str = "127.0.0.1",
        port: int = 3000,
        dynamodb_port: int = 8000,
        dynamodb_endpoint: str | None = None,
        log: Any = None,
        dynamodb_host: str = "127.0.0.1",
        api_keys: str | None = None,
        store: str = "moto",
        data_dir: Path | None = None,
        env_vars: dict[str, Any] | None = None,
        metrics: bool = False,
    ) -> None:
        self.metrics = metrics  # the functions' embedded-metric lines in the console
        self.env_vars = env_vars  # SAM's --env-vars: {"FunctionName": {...}, "Parameters": {... for every function}}
        self.api_keys = parse_api_keys(api_keys)  # before anything starts: a typo is one line, not a traceback
        self.template_path = Path(template_path).resolve()
        self.host, self.port = host, port
        self.dynamodb = EmbeddedDynamoDB(
            host=dynamodb_host,
            port=dynamodb_port,
            endpoint=dynamodb_endpoint,
            store=store,
            data_dir=data_dir,
            avoid=(port,),
        )
        self.log = log or sys.stderr
        self.runtime = ProcessRuntime(log=self.log)
        self.pollers: list[StreamPoller] = []
        self.seeded_keys: list[tuple[int, str, str]] = []

    def start(self) -> None:
        self.dynamodb.start()
        stream_arns = self.dynamodb.create_tables(self.template_path)
        reachable = "127.0.0.1" if self.host in exposure.EVERY_INTERFACE else self.host
        events_endpoint = f"http://{reachable}:{self.port}{LocalEventBus.API_PATH}"
        extra_env = function_environment(self.dynamodb.endpoint, events_endpoint)
        extra_env |= {"LOCAL_STACK_METRICS": "1"} if self.metrics else {}
        stacks, _ = SamLocalStackProvider.get_stacks(str(self.template_path), language_extensions_enabled=True)
        functions = SamFunctionProvider(stacks, use_raw_codeuri=True)
        self.adapter = SamRuntimeAdapter(self.runtime, extra_env, self.template_path.parent)
        self.runner = LocalLambdaRunner(
            local_runtime=self.adapter,
            function_provider=functions,
            cwd=str(self.template_path.parent),
            real_path=str(self.template_path.parent),
            env_vars_values=self.env_vars,
        )
        self.api = ApiProvider(stacks, cwd=str(self.template_path.parent)).api
        self.service = GatewayService(
            api=self.api,
            lambda_runner=self.runner,
            static_dir=None,
            port=self.port,
            host=self.host,
            stderr=StreamWriter(self.log, auto_flush=True),
        )
        (api_resource,) = template.resources("AWS::Serverless::Api", self.template_path).values() or [{}]
        self.service.gateway_responses = api_resource.get("Properties", {}).get("GatewayResponses", {})
        self.service.create()
        self._start_pollers(stream_arns)
        self.seeded_keys = self._seed_api_keys() if "EventsTable" in stream_arns else []

    def _seed_api_keys(self) -> list[tuple[int, str, str]]:
        """Write the development keys (``parse_api_keys``) into the table."""
        from emma_events.api_key_store import ApiKeyStore
        from emma_events.auth import Credentials
        from emma_events.transactions import Cancelled

        keys = ApiKeyStore("EventsTable", self.dynamodb.client())
        for account, public, private in self.api_keys:
            try:
                keys.create_api_key(account, credentials=Credentials(public, private))
            except Cancelled as error:  # already there (a DynamoDB that outlives the stack)
                if not error.failed("key"):
                    raise
        return self.api_keys

    def _start_pollers(self, stream_arns: dict[str, str]) -> None:
        streams = self.dynamodb.client("dynamodbstreams")
        for name, properties, table in template.stream_subscriptions(self.template_path):
            subscription = Subscription.from_event(name, properties, table)
            poller = StreamPoller(subscription, streams, stream_arns[table], self.invoke_function)
            poller.start()
            self.pollers.append(poller)

    def invoke_function(self, name: str, event: str) -> tuple[bool, str]:
        """Invoke a function directly (as an event source mapping does): (is_error, payload)."""
        spec = self.adapter.spec(self.runner.get_invoke_config(self.runner.get_function(name)))
        try:
            result = self.runtime.invoke(spec, event)
        except FunctionTimeout as timeout:
            return True, json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": str(timeout)})
        return result.error, result.payload

    def routes(self) -> list[tuple[str, str, str]]:
        return sorted((r.path, ",".join(sorted(r.methods)), r.function_name) for r in self.api.routes)

    def serve_forever(self) -> None:
        self.service.run()

    def close(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.runtime.close()
        self.dynamodb.stop()


def _banner(stack: LocalStack, started: float) -> str:
    base = f"http://{stack.host}:{stack.port}"
    lines = [f"Emma events API on {base}  (ready in {time.monotonic() - started:.1f}s)", ""]
    lines += [f"  {methods:<7} {base}{path}  -> {function}" for path, methods, function in stack.routes()]
    lines += [f"  GET     {base}/_local/eventbridge  -> what the functions put on EventBridge (local only)"]
    lines += [f"  GET     {base}/docs  -> the API's reference (Swagger UI); its OpenAPI document: {base}/openapi.json"]
    lines += ["", f"Store: {stack.dynamodb.description}", ""]
    if stack.dynamodb.fallback_reason and not stack.dynamodb.external:
        lines[-1:-1] = [f"       (moto instead of DynamoDB Local: {stack.dynamodb.fallback_reason})"]
    if stack.seeded_keys:
        lines += ["API keys (HTTP Basic: public key as user, private key as password):"]
        lines += [f"  account {account}: {public}:{private}" for account, public, private in stack.seeded_keys]
        account, public, private = stack.seeded_keys[0]
        user = f"-u {public}:{private} "
        lines += [""]
    else:
        account, user = 100, ""
    lines += [
        "Try:",
        f"  curl -s {user}-X POST {base}/{account}/events -H 'Content-Type: application/json' \\",
        '       -d \'{"event_type": "purchase", "display_name": "Purchase"}\'',
        f"  curl -s {user}{base}/{account}/events",
        "",
        "One line per request below; the functions' metrics too with METRICS=1 (--metrics). Ctrl-C stops.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--template", type=Path, default=template.TEMPLATE)
    parser.add_argument("--dynamodb-port", type=int, default=int(os.environ.get("DYNAMODB_PORT", "8000")))
    parser.add_argument("--dynamodb-endpoint", default=os.environ.get("DYNAMODB_ENDPOINT") or None)
    parser.add_argument(
        "--dynamodb-host",
        default=os.environ.get("DYNAMODB_HOST", "127.0.0.1"),
        help="interface of the embedded DynamoDB; the Docker bridge's address lets `sam local` containers reach it",
    )
    parser.add_argument(
        "--store",
        choices=STORES,
        default=os.environ.get("STORE", "auto"),
        help="auto (default): AWS's DynamoDB Local when installed with Java 17+, else moto",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where DynamoDB Local keeps its data across restarts (delete it to start empty)",
    )
    parser.add_argument("--in-memory", action="store_true", help="DynamoDB Local without files: nothing is kept")
    parser.add_argument(
        "--state-file",
        default=str(state_file()),
        help="where to say where this stack's DynamoDB is, for `make invoke` ('' for nowhere)",
    )
    parser.add_argument(
        "-n",
        "--env-vars",
        type=Path,
        help="JSON file of environment variables, as `sam local start-api --env-vars` takes it",
    )
    parser.add_argument("--metrics", action="store_true", help="print the functions' metrics (EMF lines) too")
    args = parser.parse_args(argv)
    refused = exposure.listen_refusal(args.host, args.dynamodb_host, os.environ.get("LOCAL_API_KEYS"))
    if refused:  # before anything starts
        print(f"local stack: {refused}", file=sys.stderr)
        return 2

    force_local_credentials()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("samcli", "botocore", "werkzeug"):  # werkzeug: the embedded DynamoDB's request log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # SAM's warning that local authorizers may differ from AWS's: docs/local-stack.md says how this one differs
    logging.getLogger("samcli.lib.providers.api_collector").setLevel(logging.ERROR)
    logging.getLogger("samcli.local.apigw.local_apigw_service").addFilter(RefusalIsNotAnError())

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background by a shell
    signal.signal(signal.SIGTERM, lambda *_: signal.default_int_handler(signal.SIGINT, None))  # while starting
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack (a stuck stack)
    started = time.monotonic()
    if not port_is_free(args.host, args.port):  # before anything starts, and before any banner
        print(
            f"local stack: port {args.port} on {args.host} is already in use (another `make run`?): stop it, or "
            f"choose another with PORT=<port>",
            file=sys.stderr,
        )
        return 2
    try:
        env_vars = json.loads(args.env_vars.read_text()) if args.env_vars else None
        stack = LocalStack(
            args.template,
            args.host,
            args.port,
            args.dynamodb_port,
            args.dynamodb_endpoint,
            dynamodb_host=args.dynamodb_host,
            api_keys=os.environ.get("LOCAL_API_KEYS") or None,
            store=args.store,
            data_dir=None if args.in_memory else args.data_dir,
            env_vars=env_vars,
            metrics=args.metrics,
        )
    except (OSError, ValueError) as error:  # a typo in LOCAL_API_KEYS, an unreadable or invalid --env-vars file
        print(f"local stack: {error}", file=sys.stderr)
        return 2
    try:
        stack.start()
        if args.state_file:
            state = {"pid": os.getpid(), "url": f"http://{args.host}:{args.port}", "dynamodb_endpoint": ""}
            Path(args.state_file).write_text(json.dumps(state | {"dynamodb_endpoint": stack.dynamodb.endpoint}))
        print(_banner(stack, started), flush=True)
        stack.serve_forever()
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C (GatewayService.run); further signals are ignored from here
        pass
    finally:
        ignore_further_signals()  # also when start() itself was interrupted
        stack.close()
        if args.state_file:
            Path(args.state_file).unlink(missing_ok=True)
        print("\nLocal stack stopped.", flush=True)
    return 0


def exit_now(code: int) -> None:
    """Exit once everything was stopped and flushed, without the interpreter's teardown: freeing moto's store and
    every imported module object by object took ~3 s after each Ctrl-C, and nothing is left to save by then (an
    in-memory store dies with the process; DynamoDB Local has already stopped and written its files)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
