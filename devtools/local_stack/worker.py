"""One warm Lambda execution environment: a process that imports a handler once and serves invocations.

Started by ``runtime.py`` with the function's environment, its code directory as the working directory
and its layers on ``PYTHONPATH``, as the Lambda runtime does. Requests arrive as JSON lines on stdin; each result
(or Lambda's error shape) goes back as one JSON line on the file descriptor named in argv. The handler's own
stdout is sent to stderr, so nothing it prints can corrupt the protocol.
"""

import importlib
import json
import os
import sys
import time
import traceback
import typing

# This script's folder must not be importable by the function (only its code and layers are, on Lambda).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object: the one context of the local stack,
    ``make invoke`` and the in-process calls of the tests and benchmarks. Its names come from the function's
    environment as Lambda sets it; the time left runs down to ``deadline`` (epoch seconds; by default the API
    functions' 15 s Timeout from now)."""

    def __init__(
        self,
        function_name: str | None = None,
        request_id: str = "00000000-0000-4000-8000-000000000000",
        deadline: float | None = None,
    ) -> None:
        self.function_name = function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local-function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self.function_name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None
        self.client_context = None
        self._deadline = time.time() + 15 if deadline is None else deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        # The frames from the handler on, as Lambda's runtime reports them (not this worker's own frame).
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


class WithoutMetrics:
    """The log stream without CloudWatch's embedded-metric lines (a JSON object per request, which would bury the
    stack's access lines), unless the stack was started with --metrics (LOCAL_STACK_METRICS=1)."""

    def __init__(self, stream: typing.TextIO) -> None:
        self.stream, self.dropped = stream, False

    def write(self, text: str) -> int:
        # print() writes its text, then its newline: the newline of a dropped line goes too
        self.dropped = text.startswith('{"_aws":') or (self.dropped and text == "\n")
        return len(text) if self.dropped else self.stream.write(text)

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self.stream, name)


def main() -> None:
    out = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    requests = sys.stdin
    # prints and log lines of the handler go to the log stream
    sys.stdout = sys.stderr if os.environ.get("LOCAL_STACK_METRICS") else WithoutMetrics(sys.stderr)
    module_name, _, function_name = os.environ["AWS_LAMBDA_FUNCTION_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        init_error = None
    except Exception as exc:  # the Lambda runtime reports import errors on every invocation
        traceback.print_exc()
        handler, init_error = None, _error(exc, "Runtime.ImportModuleError")
    out.write(json.dumps({"ready": True}) + "\n")

    for line in requests:
        request = json.loads(line)
        context = LambdaContext(request_id=request["request_id"], deadline=request["deadline"])
        if handler is None:
            reply = {"error": True, "payload": json.dumps(init_error)}
        else:
            try:
                reply = {"error": False, "payload": json.dumps(handler(json.loads(request["event"]), context))}
            except Exception as exc:  # an unhandled error (or an unserializable result) is a function error
                if str(exc) != "Unauthorized":  # an authorizer's refusal (API Gateway's 401) is no failure
                    traceback.print_exc()
                reply = {"error": True, "payload": json.dumps(_error(exc))}
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
