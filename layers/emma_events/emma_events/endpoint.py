"""One route per function, bound by pydantic: API Gateway has already routed the request, so a function needs no
router, only its path, query, headers and body validated against its own declaration.

A handler declares each argument's type and where it comes from, in ``Annotated`` metadata::

    @route("PUT", "/{account_id}/events/{event_type_id}", "Rename an event type")
    def update_event_type(account_id: AccountId, event_type_id: EventTypeId, body: EventTypeRequest) -> ...

``AccountId`` is ``Annotated[int, InPath, Field(gt=0, ...)]``; an argument named ``body`` is the JSON body (a
pydantic model); one annotated ``Request`` gets the raw event. For each place the endpoint builds one pydantic
model from those declarations, once per container and at its first request (``defer_build``): validation,
coercion and error locations are pydantic's. The same declarations describe the route in docs/openapi.json
(devtools/contract/openapi.py).
"""

from __future__ import annotations

import base64
import binascii
import inspect
from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, NamedTuple, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField

from emma_events.errors import ValidationFailed, field_error
from emma_events.gateway import headers
from emma_events.json_text import Parsed, parse


class Place(NamedTuple):
    """Where an argument comes from: ``path``, ``query`` or ``header`` (``name``: its name there, if not the
    argument's own; headers are compared in lower case, as HTTP names are case-insensitive)."""

    where: str
    name: str | None = None


InPath = Place("path")
InQuery = Place("query")


def InHeader(name: str) -> Place:
    return Place("header", name)


class Request(NamedTuple):
    """The request as API Gateway sent it, for the handler that needs more than its arguments: its body parsed,
    and that body's canonical JSON text (keys sorted, compact: ``json_text.parse``)."""

    event: dict[str, Any]
    json_body: Any = None
    canonical: str | None = None


class Response(NamedTuple):
    """An answer other than a bare body: its headers (``Link``), or a status other than 200."""

    body: Any
    headers: Mapping[str, str] = MappingProxyType({})
    status: int = 200


def _place(annotation: Any) -> Place | None:
    if get_origin(annotation) is Annotated:
        return next((m for m in get_args(annotation)[1:] if isinstance(m, Place)), None)
    return None


class Endpoint:
    """A function's one route: its declaration, and the binding of a request to its handler's arguments."""

    def __init__(self, method: str, path: str, summary: str, handler: Callable[..., Any], answers: Any = None) -> None:
        self.method, self.path, self.summary, self.handler = method, path, summary, handler
        self.name = handler.__name__
        hints = get_type_hints(handler, include_extras=True)
        #: The type of the body it answers (docs/openapi.json): its return type, unless that is a Response.
        self.answers = answers if answers is not None else hints.get("return")
        self.body: type[BaseModel] | None = None
        self.request_argument: str | None = None
        self.fields: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
        for name, parameter in inspect.signature(handler).parameters.items():
            annotation = hints[name]
            if annotation is Request:
                self.request_argument = name
                continue
            if name == "body":
                self.body = annotation
                continue
            place = _place(annotation)
            if place is None:
                raise TypeError(f"{self.name}: argument {name} says neither InPath, InQuery nor InHeader")
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            alias = (place.name or name).lower() if place.where == "header" else place.name or name
            self.fields[place.where][name] = (annotation, PydanticField(default, validation_alias=alias))

    @cached_property
    def models(self) -> dict[str, type[BaseModel]]:
        """One model per place that has arguments, built at the first request (not at import)."""
        config = ConfigDict(extra="ignore", defer_build=True)
        return {
            where: create_model(f"{self.name}_{where}", __config__=config, **fields)
            for where, fields in self.fields.items()
            if fields
        }

    def bind(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler's arguments from the event, or ``ValidationFailed`` naming every field that is wrong."""
        sources = {
            "path": event.get("pathParameters") or {},
            "query": event.get("queryStringParameters") or {},
            "header": headers(event),
        }
        arguments: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for where, model in self.models.items():
            try:
                arguments |= dict(model.model_validate(sources[where]))
            except ValidationError as error:
                errors += _field_errors(error, (where,))
        parsed = None
        if self.body is not None or self.request_argument is not None:
            parsed, body_errors = _json_body(event, required=self.body is not None)
            errors += body_errors
            if self.body is not None and parsed is not None:
                try:
                    arguments["body"] = self.body.model_validate(parsed.value)
                except ValidationError as error:
                    errors += _field_errors(error, ("body",))
        if errors:
            fields = ", ".join(sorted({e["field"] for e in errors}))
            raise ValidationFailed(f"Invalid request: {fields}.", errors=errors)
        if self.request_argument is not None:
            arguments[self.request_argument] = Request(event, *(parsed or ()))
        return arguments

    def __call__(self, event: dict[str, Any]) -> Response:
        answer = self.handler(**self.bind(event))
        return answer if isinstance(answer, Response) else Response(answer)


def route(method: str, path: str, summary: str, answers: Any = None) -> Callable[[Callable[..., Any]], Endpoint]:
    """Declare a function's route (``path`` as in template.yaml: ``/{account_id}/events``); ``answers``: the type
    of the body when the handler returns a ``Response``."""
    return lambda handler: Endpoint(method, path, summary, handler, answers)


def _field_errors(error: ValidationError, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [field_error((*prefix, *e["loc"]), e["msg"], e["type"]) for e in error.errors(include_url=False)]


def _json_body(event: dict[str, Any], required: bool) -> tuple[Parsed | None, list[dict[str, Any]]]:
    text = event.get("body")
    if event.get("isBase64Encoded") and text:
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            return None, [field_error(("body",), f"body is not valid base64 UTF-8: {error}", "json_invalid")]
    if not text:
        return None, [field_error(("body",), "Field required", "missing")] if required else []
    try:
        return parse(text), []
    except ValueError as error:  # JSONDecodeError included
        return None, [field_error(("body",), f"body is not valid JSON: {error}", "json_invalid")]
