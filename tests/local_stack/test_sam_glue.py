"""The SAM CLI internals that devtools/local_stack/server.py relies on. These are not public APIs: when an aws-sam-cli
upgrade changes one of them, a test here fails and says what to update, before `make run` breaks for users."""

from __future__ import annotations

import inspect
import json
from importlib.metadata import version
from io import StringIO
from typing import Any

from devtools.local_stack.template import TEMPLATE
from devtools.testing.events import load_event

PINNED = "1.170.0"
HINT = (
    "aws-sam-cli changed an internal API used by devtools/local_stack/server.py; adapt the glue there, then this test."
)


def test_aws_sam_cli_is_the_pinned_version() -> None:
    assert version("aws-sam-cli") == PINNED, f"aws-sam-cli {version('aws-sam-cli')} != {PINNED}. {HINT}"


def test_local_lambda_runner_hands_our_runtime_the_function_config_and_a_stdout() -> None:
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.lib.utils.stream_writer import StreamWriter

    calls: list[dict[str, Any]] = []

    class RecordingRuntime:
        def invoke(self, config: Any, event: str, *args: Any, **kwargs: Any) -> None:
            calls.append({"config": config, "event": event, "kwargs": kwargs})
            kwargs["stdout"].write_str('{"statusCode": 200}')

    stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), language_extensions_enabled=True)
    runner = LocalLambdaRunner(
        local_runtime=RecordingRuntime(),  # type: ignore[arg-type]
        function_provider=SamFunctionProvider(stacks, use_raw_codeuri=True),
        cwd=str(TEMPLATE.parent),
        real_path=str(TEMPLATE.parent),
    )
    out = StringIO()
    event = json.dumps(load_event("get_event_type"))
    runner.invoke("GetEventTypeFunction", event, stdout=StreamWriter(out), stderr=StreamWriter(StringIO()))

    assert len(calls) == 1, HINT
    config = calls[0]["config"]
    assert calls[0]["event"] == event, HINT
    assert "stdout" in calls[0]["kwargs"], HINT
    assert out.getvalue() == '{"statusCode": 200}', HINT
    # The attributes SamRuntimeAdapter.spec reads:
    assert config.name == "GetEventTypeFunction", HINT
    assert config.code_abs_path.endswith("functions/get_event_type"), HINT
    assert [layer.codeuri for layer in config.layers] == ["layers/emma_events/"], HINT
    assert config.timeout == 15, HINT  # template.yaml's Globals
    assert hasattr(config.env_vars, "shell_env_values"), HINT
    config.env_vars.shell_env_values = {}  # as SamRuntimeAdapter does: only the template's values
    environment = config.env_vars.resolve()
    assert environment["TABLE_NAME"] == "EventsTable", HINT
    assert environment["AWS_LAMBDA_FUNCTION_HANDLER"] == "app.lambda_handler", HINT


def test_the_api_gateway_service_has_the_hooks_we_override() -> None:
    from samcli.local.apigw.exceptions import LambdaResponseParseException
    from samcli.local.apigw.local_apigw_service import LocalApigwService

    assert issubclass(LambdaResponseParseException, Exception), HINT
    parameters = inspect.signature(LocalApigwService.__init__).parameters
    assert {"api", "lambda_runner", "static_dir", "port", "host", "stderr"} <= set(parameters), HINT
    invoke = inspect.signature(LocalApigwService._invoke_lambda_function).parameters
    assert list(invoke)[:3] == ["self", "lambda_function_name", "event"], HINT
    assert callable(LocalApigwService.create), HINT
    assert callable(LocalApigwService._request_handler), HINT
    authorizer = inspect.signature(LocalApigwService._invoke_parse_lambda_authorizer).parameters
    assert list(authorizer)[:2] == ["self", "lambda_authorizer"], HINT
    assert callable(LocalApigwService.run), HINT


def test_the_api_provider_reads_every_route_of_the_template() -> None:
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    from devtools.local_stack.template import api_functions

    stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), language_extensions_enabled=True)
    routes = {
        (r.function_name, r.path, m)
        for r in ApiProvider(stacks, cwd=str(TEMPLATE.parent)).api.routes
        for m in r.methods
    }
    expected = {(name, f["path"], f["method"]) for name, f in api_functions().items()}
    assert routes == expected, HINT
