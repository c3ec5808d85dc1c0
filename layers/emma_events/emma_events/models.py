"""Pydantic models: the field types every model shares, and the event types' models. Members' and member
events' models are in ``member_models`` and ``event_models``, so that a function builds only the classes it uses
at its cold start.

What clients send is a ``*Request``, what they get back a ``*Response``; the domain objects the stores
returns are named tuples in ``domain.py``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from emma_events.dates import EMMA_DATE_PATTERN, parse_timestamp, to_emma
from emma_events.keys import MAX_ID

#: Documented limits (docs/api.md, "Limits and rules").
EVENT_TYPE_MAX_LENGTH = 100
DISPLAY_NAME_MAX_LENGTH = 255
#: ``attributes`` of one event, serialized as compact JSON in UTF-8. 10 of them and the batch's idempotency
#: record (which keeps the whole response) must fit DynamoDB's 400 KB item and 4 MB transaction limits.
ATTRIBUTES_MAX_BYTES = 32 * 1024
#: A member's ``fields``, serialized the same way.
FIELDS_MAX_BYTES = 32 * 1024
#: Nesting depth of ``attributes`` and ``fields`` (DynamoDB allows 32; deep nesting is always a client bug).
JSON_MAX_DEPTH = 10
#: ``event_monetary_value``: finite, and exact in an IEEE double (what JSON numbers are in JavaScript).
MONETARY_MAX_ABS = 10**15
#: The smallest non-zero magnitude a DynamoDB number can hold (its documented range is 1E-130 to 9.99...E+125).
MONETARY_MIN_NONZERO_ABS = 1e-130
EMAIL_MAX_LENGTH = 254
EMAIL_LOCAL_PART_MAX_OCTETS = 64
MAX_EVENTS_PER_POST = 10


def _nfc(value: str) -> str:
    """Unicode NFC: "caf\u00e9" and "cafe\u0301" look alike and are one name (checked unique in this form)."""
    return unicodedata.normalize("NFC", value)


def _no_controls(value: str, where: str = "", allowed: str = "") -> str:
    """Reject control characters (NUL included; but those in ``allowed``) and lone surrogates, which DynamoDB
    cannot store as UTF-8. Names are text on one line; inside ``attributes`` and ``fields`` (keys and values, every
    level) tab, line feed and carriage return are text too."""
    for char in value:
        code = ord(char)
        if (code < 0x20 and char not in allowed) or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"{where}must not contain the control or surrogate character U+{code:04X}")
    return value


def _free_strings(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        _no_controls(value, f"the value at {path or 'the top'} ", "\t\n\r")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _no_controls(key, f"the key {key!r} ", "\t\n\r")
            _free_strings(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _free_strings(inner, f"{path}[{index}]")


EventTypeName = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=EVENT_TYPE_MAX_LENGTH),
    AfterValidator(_no_controls),
    AfterValidator(_nfc),
    Field(description="The account-unique name of the type, e.g. `purchase`.", examples=["purchase"]),
]
DisplayName = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=DISPLAY_NAME_MAX_LENGTH),
    AfterValidator(_no_controls),
    AfterValidator(_nfc),
    Field(description="A human-readable name.", examples=["Purchase"]),
]


def json_depth(value: Any) -> int:
    """How deep a JSON value nests (a scalar: 0)."""
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON in UTF-8 (as it is stored); ``ValueError`` for what JSON cannot hold."""
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (ValueError, UnicodeEncodeError):
        raise ValueError("must contain only finite numbers and valid Unicode text") from None


def _json_object(max_bytes: int) -> Any:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        """Size first, then depth and characters, on the value's JSON text (``json_text``: C speed, whatever its
        shape); only a value refused for a character is walked, to name where it is."""
        from emma_events import json_text

        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            size = len(text.encode())
        except (ValueError, UnicodeEncodeError):
            raise ValueError("must contain only finite numbers and valid Unicode text") from None
        if size > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes as JSON, not {size}")
        if json_text.deeper_than(json_text.skeleton(text), JSON_MAX_DEPTH):
            raise ValueError(f"must not be nested more than {JSON_MAX_DEPTH} levels deep")
        if json_text.has_controls(text):
            _free_strings(value)  # raises, naming the value or key
        return value

    return AfterValidator(check)


def _request_id(value: Any) -> Any:
    """Ids may come as JSON integers or as strings of ASCII digits; booleans and fractions are refused."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _email(value: str) -> str:
    """Validate an address (RFC 5322/6531, no DNS lookup) and return its normalized form."""
    from email_validator import EmailNotValidError, validate_email  # imported by the functions that need it

    try:
        address = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"is not a valid email address: {error}") from None
    if len(address.local_part.encode()) > EMAIL_LOCAL_PART_MAX_OCTETS:  # RFC 5321, 4.5.3.1.1
        raise ValueError(f"is not a valid email address: more than {EMAIL_LOCAL_PART_MAX_OCTETS} octets before the @")
    return str(address.normalized)


def _monetary(value: int | float) -> int | float:
    """A finite number DynamoDB can store, as DynamoDB renders it: an integral value is an integer (``20.0`` and
    ``1e3`` are 20 and 1000, since DynamoDB trims trailing zeros), so the POST's answer, a replay and every
    listing show the same JSON number."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if abs(value) > MONETARY_MAX_ABS:
        raise ValueError(f"must be at most {MONETARY_MAX_ABS:.0e} in absolute value")
    if value and abs(value) < MONETARY_MIN_NONZERO_ABS:
        raise ValueError(f"must be 0 or at least {MONETARY_MIN_NONZERO_ABS:.0e} in absolute value")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: The constraints before the validator that reads digit strings: JSON Schema's exclusiveMinimum and maximum.
RequestId = Annotated[
    StrictInt, Field(gt=0, le=MAX_ID, description="An id: integer or digit string."), BeforeValidator(_request_id)
]
#: The text of an address, before it is checked as one.
_AddressText = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=EMAIL_MAX_LENGTH),
    AfterValidator(_no_controls),
    Field(examples=["ada@example.com"], json_schema_extra={"format": "email"}),
]
Email = Annotated[_AddressText, AfterValidator(_email)]


def _lookup_form(value: str) -> str:
    """An ASCII address as given: it finds its member whatever its case (the stored address was validated when it
    was added, and keys compare ASCII letters in lower case); any other, and one whose domain is in IDNA's ASCII
    form (``xn--``, stored in its Unicode form), is normalized by email-validator first (NFC, IDNA)."""
    return value if value.isascii() and "xn--" not in value.lower() else _email(value)


def email_problem(value: str) -> str | None:
    """Why an address that found no member is not an email address (pydantic's wording), or None when it is one:
    an unknown address is validated only then, so a lookup that finds its member never imports email-validator
    (~20 ms of cold start: it compiles whole-Unicode patterns at import; docs/performance.md)."""
    try:
        _email(value)
    except ValueError as error:
        return f"Value error, {error}"
    return None


#: An address that names an existing member (events by email, ``/members/email/{email}``): checked as ``Email``
#: where it finds nothing (``email_problem``), so an address that is not one is still a 400.
LookupEmail = Annotated[_AddressText, AfterValidator(_lookup_form)]
Attributes = Annotated[dict[str, Any], _json_object(ATTRIBUTES_MAX_BYTES)]
MemberFields = Annotated[dict[str, Any], _json_object(FIELDS_MAX_BYTES)]
MonetaryValue = Annotated[
    StrictInt | Annotated[float, Field(strict=True)], AfterValidator(_monetary), Field(examples=[19.99])
]
EventTimestamp = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    Field(description="ISO 8601 (with or without offset; UTC if none) or @D:YYYY-MM-DDTHH:MM:SS."),
]


#: A datetime serialized the way Emma does it: ``"@D:2026-11-26T12:00:00"`` (UTC).
EmmaDate = Annotated[
    datetime,
    PlainSerializer(to_emma, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": EMMA_DATE_PATTERN, "examples": ["@D:2026-11-26T12:00:00"]}),
]


# Every model builds its validator at first use (defer_build), not at import: a function pays only for the models
# it uses, at its cold start (docs/performance.md).


class RequestModel(BaseModel):
    # Unknown fields are ignored, as Emma does, so existing clients that send extra fields keep working.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class ResponseModel(BaseModel):
    """A response body, built from the domain object of the same fields."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)

    @classmethod
    def of(cls, domain: object) -> Self:
        return cls.model_validate(domain)


def _attributes_schema(schema: dict[str, Any]) -> dict[str, Any]:
    from emma_events.attribute_schemas import check  # only a request that declares a schema loads the checks

    return check(schema)


AttributesSchema = Annotated[
    dict[str, Any],
    AfterValidator(_attributes_schema),
    Field(
        description="A JSON Schema (draft 2020-12, at most 16 KB) every event's `attributes` must match; on PUT, "
        "`null` removes it and leaving it out keeps it.",
        examples=[{"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}],
    ),
]


class EventTypeRequest(RequestModel):
    """Body of ``POST /{account_id}/events`` and ``PUT /{account_id}/events/{event_type_id}``."""

    event_type: EventTypeName
    display_name: DisplayName
    attributes_schema: AttributesSchema | None = None


def _absent(value: Any) -> bool:
    return value is None


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default")  # left out, never null (``exclude_if``)


class EventTypeResponse(ResponseModel):
    """A type; one without a schema is answered exactly as Emma does (the schema's fields are left out)."""

    account_id: int
    event_type_id: int
    event_type: str
    display_name: str
    created_at: EmmaDate
    attributes_schema: Annotated[
        dict[str, Any] | None, WithJsonSchema({"type": "object", "description": "Only on a type that has one."})
    ] = Field(default=None, exclude_if=_absent, json_schema_extra=_no_default)
    attributes_schema_version: Annotated[
        int | None,
        WithJsonSchema({"type": "integer", "description": "Up by one at each change of the schema (with it)."}),
    ] = Field(default=None, exclude_if=_absent, json_schema_extra=_no_default)
