"""Hostile input, generated: every API function through its Lambda entry point, at every surface (body, path,
query, headers, cursor), answers 200 or a 4xx problem document, never a 5xx, and a refused request changes
nothing in the table.

The inputs come from hypothesis, not from a list: JSON bodies of any depth and width, numbers of thousands of
digits, every Unicode category with lone surrogates and control characters, duplicate keys, every field of the
wrong type; dates at the edges of the representable range; signed and huge numbers; percent-encodings; real
cursors decoded, altered and encoded again. Each attack found by hand is a fixed ``@example``. The budget is
fixed (``max_examples``); a failure prints the seed that repeats the run (``HYPOTHESIS_SEED=<n> make test``).

"Changes nothing" leaves out the account's id counters: ids taken by a request that fails are skipped, never
reused (docs/data-model.md), and an unknown member id is only found by the transaction that follows the
allocation.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest
from helpers import create_type, new_member, post_events, snapshot, survives
from helpers import examples as scaled
from hypothesis import HealthCheck, example, given, note, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from devtools.testing.events import api_event, authorizer_request, load_event
from devtools.testing.in_process import invoke, load_function
from devtools.testing.seeding import DEV_KEY

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

SEED = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
ACCOUNT = 1


def budget(examples: int) -> Any:
    return settings(
        max_examples=scaled(examples),
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- what a client can send ----------------------------------------------------------------------------------

any_char = st.one_of(
    st.characters(),
    st.characters(categories=["Cc", "Cf", "Co", "Cs", "Zl", "Zp", "Mn"]),  # controls, format, private, surrogates
)
texts = st.one_of(st.text(any_char, max_size=40), st.sampled_from(["", " ", "\x00", "\ud800", "\udfff", "\u202e"]))
many_digits = st.builds(
    lambda sign, digit, n: sign + digit * n, st.sampled_from(["", "-"]), st.sampled_from("19"), st.integers(1, 6000)
)
number_literals = st.one_of(
    st.integers().map(str),
    many_digits,
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["-0", "0.0", "1e400", "-1e400", "1e-400", "1E+126", "9.99e125", "0.5", "-1", "2e-131"]),
)


def string_literal(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)


scalars = st.one_of(
    st.sampled_from(["null", "true", "false"]),
    number_literals,
    st.builds(string_literal, texts, st.booleans()),
)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(pairs: list[tuple[str, str]]) -> str:  # keys may repeat: duplicate keys are part of the attack
    return "{" + ",".join(f"{string_literal(k, True)}:{v}" for k, v in pairs) + "}"


json_text = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6).map(_array),
        st.lists(st.tuples(st.one_of(texts, st.sampled_from(["a", "a", "sku"])), inner), max_size=6).map(_object),
    ),
    max_leaves=20,
)
deep_json = st.builds(
    lambda opener, n: opener * n + {"[": "]", '{"a":': "}"}[opener] * n,
    st.sampled_from(["[", '{"a":']),
    st.integers(1, 3000),
)
hostile_json = st.one_of(json_text, deep_json)

HOLE = "\x00hole\x00"


def _replace_at(value: Any, path: list[Any]) -> Any:
    """``value`` with HOLE at ``path`` (whose last part may be a new key)."""
    if not path:
        return HOLE
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace_at(copy[head], rest) if rest else HOLE
    return copy


def _paths(value: Any, prefix: list[Any]) -> list[list[Any]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, [*prefix, key])
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, [*prefix, index])
    return found


@st.composite
def hostile_body(draw: Any, baseline: dict[str, Any]) -> str:
    """A body: hostile JSON instead of the whole body, or in place of one value (or of a new key) of a valid one."""
    how = draw(st.sampled_from(["whole", "value", "new key", "raw text"]))
    if how == "whole":
        return draw(hostile_json)
    if how == "raw text":
        return draw(texts)
    paths = _paths(baseline, [])
    target = draw(st.sampled_from(paths[1:] or paths))
    if how == "new key":
        parents = [p for p in paths if isinstance(_at(baseline, p), dict)]
        target = [
            *draw(st.sampled_from(parents)),
            draw(st.one_of(texts, st.sampled_from(["attributes", "events", "attributes_schema"]))),
        ]
    return json.dumps(_replace_at(baseline, target)).replace(json.dumps(HOLE), draw(hostile_json))


def _at(value: Any, path: list[Any]) -> Any:
    for part in path:
        value = value[part]
    return value


instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
offsets = st.one_of(st.none(), st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))))


def _date_form(moment: datetime, zone: timezone | None, form: str) -> str:
    moment = moment.replace(tzinfo=zone)
    if form == "emma":
        return "@D:" + moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if form == "z" and zone is not None:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return moment.isoformat()


dates = st.builds(_date_form, instants, offsets, st.sampled_from(["iso", "emma", "z"]))
edge_dates = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0999-12-31T00:00:00Z",
        "@D:0001-01-01T00:00:00",
        "10000-01-01T00:00:00",
        "2026-02-30T00:00:00",
        "-2026-01-01",
    ]
)
query_values = st.one_of(
    texts,
    number_literals,
    dates,
    edge_dates,
    st.builds(
        lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""), texts
    ),  # percent-encodings reach a function as sent
    st.sampled_from(["true", "false", "TRUE", "1", "asc", "desc", "ASC", "+1", " 1", "0x10", "1_000"]),
)
QUERY_NAMES = ["start", "end", "count", "event_type_id", "since", "until", "order", "cursor", "limit"]
queries = st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES), texts), query_values, max_size=5)
path_values = st.one_of(
    texts,
    many_digits,
    number_literals,
    st.builds(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""), texts),
    st.sampled_from(["0", "-1", "+1", "01", "1.0", "1e3", "9007199254740992", "%41", "%00", "a%40b.c", "@"]),
)
content_types = st.one_of(
    texts,
    st.builds(
        lambda t, p: t + p,
        st.sampled_from(
            [
                "application/json",
                "APPLICATION/JSON",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "",
            ]
        ),
        st.sampled_from(["", "; charset=utf-8", ";charset=latin-1", "; boundary=x", ";;", " ;"]),
    ),
)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": content_types,
        "Idempotency-Key": st.one_of(texts, st.text(min_size=200, max_size=300)),
        "Authorization": texts,
        "X-Forwarded-For": texts,
    },
)


# ---- the world the attacks meet, and what they must leave alone ----------------------------------------------


@pytest.fixture
def world(dynamodb: Any, table_items: Any) -> dict[str, Any]:
    """Account 1 with member 1 (ada@example.com), type 1 (purchase) and three events; the ids every events/ file
    names, so each function's own event is a valid request to mutate."""
    assert new_member(ACCOUNT, "ada@example.com") == 1
    assert create_type(ACCOUNT, "purchase") == 1
    for day in (1, 2, 3):
        stamp = f"2026-11-0{day}T12:00:00Z"
        assert post_events(ACCOUNT, [{"member_id": 1, "event_type_id": 1, "event_timestamp": stamp}]).status == 200
    return {"items": table_items}


def event_of(name: str) -> dict[str, Any]:
    event = api_event(name, path={"account_id": ACCOUNT})
    return event


def assert_survives(world: dict[str, Any], name: str, event: dict[str, Any]) -> Any:
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test (the parametrized reproductions)
        note(f"seed: HYPOTHESIS_SEED={SEED} repeats this run")
    return survives(world["items"], name, event)


BODY_FUNCTIONS = ["create_event_type", "update_event_type", "add_member", "create_field", "create_member_events"]
ALL_FUNCTIONS = [
    "create_event_type",
    "list_event_types",
    "get_event_type",
    "update_event_type",
    "delete_event_type",
    "add_member",
    "get_member",
    "get_member_by_email",
    "delete_member",
    "list_members",
    "create_field",
    "list_fields",
    "create_member_events",
    "list_member_events",
]
DEEP = "[" * 100_000 + "]" * 100_000
DIGITS = "1" * 5000


def events_body(**fields: str) -> str:
    extra = "".join(f', "{key}": {value}' for key, value in fields.items())
    return f'{{"events": [{{"member_id": 1, "event_type_id": 1{extra}}}]}}'


def test_the_attacks_are_not_all_refused_before_the_functions(world: dict[str, Any]) -> None:
    """A control: the baseline of every body function is a valid request, so mutations of it reach each check."""
    for name in sorted(BODY_FUNCTIONS, key=lambda n: n == "update_event_type"):  # the rename last: others name it
        event = event_of(name)
        if name == "create_event_type":
            event["body"] = json.dumps({"event_type": "baseline", "display_name": "B"})
        assert invoke(name, event).status == 200, name


@budget(60)
@seed(SEED)
@given(data=st.data(), name=st.sampled_from(BODY_FUNCTIONS))
@example(data=None, name="create_event_type").via("nesting deeper than the stack")
@example(data=None, name="create_member_events").via("nesting in attributes")
def test_hostile_bodies(world: dict[str, Any], data: Any, name: str) -> None:
    event = event_of(name)
    if data is None:  # the fixed examples
        event["body"] = DEEP if name == "create_event_type" else events_body(attributes=f'{{"a": {DEEP}}}')
    else:
        event["body"] = data.draw(hostile_body(json.loads(event["body"])), label="body")
        event["headers"].update(data.draw(header_sets, label="headers"))
    assert_survives(world, name, event)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("create_event_type", f'{{"event_type": {DIGITS}, "display_name": "x"}}'),
        ("create_member_events", events_body(mailing_id=DIGITS)),
        ("create_member_events", events_body(event_monetary_value=DIGITS)),
        ("create_member_events", events_body(event_timestamp='"9999-12-31T23:59:59-01:00"')),
        ("create_member_events", events_body(event_timestamp='"0001-01-01T00:00:00+01:00"')),
        ("create_member_events", events_body(attributes='{"a": "\\ud800"}')),
        ("create_member_events", '{"events": [], "x": "\\ud800"}'),
        ("add_member", f'{{"email": "a@example.com", "fields": {{"n": {DIGITS}}}}}'),
    ],
)
def test_reproductions_in_bodies_are_refused(world: dict[str, Any], name: str, body: str) -> None:
    event = event_of(name)
    event["body"] = body
    assert assert_survives(world, name, event).status == 400


@pytest.mark.parametrize(("levels", "status"), [(32, 200), (33, 400)])
def test_a_body_nested_in_objects_and_arrays_by_turns_is_measured_level_by_level(
    world: dict[str, Any], levels: int, status: int
) -> None:
    nested = "0"
    for level in range(levels - 1):  # inside the body's own object
        nested = f'{{"a": {nested}}}' if level % 2 else f"[{nested}]"
    event = event_of("create_member_events")
    event["body"] = events_body()[:-1] + f', "pad": {nested}}}'
    assert assert_survives(world, "create_member_events", event).status == status


@pytest.mark.parametrize(("levels", "status"), [(10, 200), (11, 400)])
def test_attributes_nested_by_turns_are_measured_level_by_level(
    world: dict[str, Any], levels: int, status: int
) -> None:
    nested: Any = 0
    for level in range(levels - 1):  # the attributes object is the first level
        nested = {"a": nested} if level % 2 else [nested]
    event = event_of("create_member_events")
    event["body"] = events_body(attributes=json.dumps({"a": nested}))
    assert assert_survives(world, "create_member_events", event).status == status


def test_a_lone_surrogate_beside_an_idempotency_key_is_fingerprinted(world: dict[str, Any]) -> None:
    event = event_of("create_member_events")
    event["body"] = '{"events": [{"member_id": 1, "event_type_id": 1}], "note": "\\ud800"}'
    result = assert_survives(world, "create_member_events", event)
    assert result.status == 200  # the models ignore the field; the fingerprint keeps it


@budget(50)
@seed(SEED)
@given(name=st.sampled_from(ALL_FUNCTIONS), data=st.data())
def test_hostile_path_parameters(world: dict[str, Any], name: str, data: Any) -> None:
    parameter = data.draw(st.sampled_from(sorted(event_of(name)["pathParameters"])), label="parameter")
    value = data.draw(path_values, label="value")
    # The path is rebuilt with the value, as API Gateway would have routed it; for account_id, the authorizer
    # vouched for exactly what the path says, so the function's own checks decide.
    event = api_event(name, path={"account_id": ACCOUNT, parameter: value})
    assert_survives(world, name, event)


#: Spellings of the id 1 that Python's int() or pydantic's lax mode read as 1 (and URL-encoded ones).


def _spelled(sign: str, zeros: int, digit: str, space: tuple[str, str], tail: str, encode: bool) -> str:
    text = f"{space[0]}{sign}{'0' * zeros}{digit}{tail}{space[1]}"
    return quote(text, safe="") if encode else text


one_spelled = st.builds(
    _spelled,
    st.sampled_from(["", "+"]),
    st.integers(0, 3),
    st.sampled_from(["1", "\uff11", "\u0661", "\u06f1", "\u0967"]),  # ASCII, fullwidth, Arabic, Persian, Devanagari
    st.sampled_from([("", ""), (" ", ""), ("", " "), ("\t", "\n")]),
    st.sampled_from(["", ".0", ".00"]),
    st.booleans(),
)


@budget(60)
@seed(SEED)
@given(
    name=st.sampled_from(["get_member", "delete_member", "get_event_type", "list_member_events"]),
    spelled=one_spelled,
    in_query=st.booleans(),
)
@example(name="get_member", spelled="1", in_query=False).via("the control: plain digits")
@example(name="delete_member", spelled="%2B1", in_query=False)
@example(name="get_event_type", spelled="1.0", in_query=False)
@example(name="list_member_events", spelled="01", in_query=True)
def test_an_id_in_the_url_is_written_in_plain_digits(
    world: dict[str, Any], name: str, spelled: str, in_query: bool
) -> None:
    """Any other spelling of an existing id (sign, space, leading zero, fraction, non-ASCII digit) is a 400 that
    names it and changes nothing; the plain one finds the id."""
    in_query = in_query and name == "list_member_events"
    parameter = "event_type_id" if in_query or name.endswith("event_type") else "member_id"
    event = event_of(name)
    if in_query:
        event["queryStringParameters"] = {parameter: spelled}
        event["multiValueQueryStringParameters"] = {parameter: [spelled]}
    else:
        event["pathParameters"][parameter] = spelled
    if spelled == "1" and name == "delete_member":
        return  # the plain id would delete the member the other examples look for
    result = assert_survives(world, name, event)
    if spelled == "1":
        assert result.status == 200, result.body
    else:
        assert result.status == 400, result.body
        assert [e["field"] for e in result.body["errors"]] == [f"{'query' if in_query else 'path'}.{parameter}"]


@budget(80)
@seed(SEED)
@given(
    name=st.sampled_from(
        ["list_member_events", "list_event_types", "list_members", "list_fields", "get_member", "create_member_events"]
    ),
    query=queries,
)
@example(name="list_member_events", query={"since": "0001-01-01T00:00:00+01:00"})
@example(name="list_member_events", query={"until": "9999-12-31T23:59:59-01:00"})
@example(name="list_member_events", query={"event_type_id": DIGITS})
@example(name="list_member_events", query={"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"})
@example(name="list_member_events", query={"start": DIGITS})
def test_hostile_query_parameters(world: dict[str, Any], name: str, query: dict[str, str]) -> None:
    event = event_of(name)
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    assert_survives(world, name, event)


@budget(40)
@seed(SEED)
@given(
    since=st.one_of(st.none(), st.tuples(instants, offsets, st.sampled_from(["iso", "emma", "z"]))),
    until=st.one_of(st.none(), st.tuples(instants, offsets, st.sampled_from(["iso", "emma", "z"]))),
)
@example(since=None, until=(datetime(999, 12, 31), UTC, "z"))
def test_a_listing_returns_exactly_the_events_in_its_time_range(world: dict[str, Any], since: Any, until: Any) -> None:
    """Every generated range: the events in it and no others (a year before 1000 once sorted after 2026)."""
    query = {}
    bounds = []
    for name, bound in (("since", since), ("until", until)):
        if bound is not None:
            query[name] = _date_form(*bound)
            moment = bound[0].replace(tzinfo=bound[1] or UTC)
            bounds.append(moment)
        else:
            bounds.append(None)
    event = event_of("list_member_events")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    result = assert_survives(world, "list_member_events", event)
    if result.status != 200:
        return
    low, high = bounds
    stamps = [datetime(2026, 11, day, 12, tzinfo=UTC) for day in (1, 2, 3)]
    wanted = [
        s
        for s in stamps
        if (low is None or s >= low.replace(microsecond=0)) and (high is None or s <= high.replace(microsecond=0))
    ]
    got = [datetime.strptime(e["event_timestamp"], "@D:%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) for e in result.body]
    assert got == wanted


@budget(60)
@seed(SEED)
@given(name=st.sampled_from(ALL_FUNCTIONS), headers=header_sets)
def test_hostile_headers(world: dict[str, Any], name: str, headers: dict[str, str]) -> None:
    event = event_of(name)
    event["headers"].update(headers)
    event["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    assert_survives(world, name, event)


def _real_cursor() -> tuple[str, dict[str, Any]]:
    event = event_of("list_member_events")
    event["queryStringParameters"] = {"end": "1"}
    event["multiValueQueryStringParameters"] = {"end": ["1"]}
    link = invoke("list_member_events", event).headers["Link"]
    cursor = parse_qs(urlparse(re.search("<(.*?)>", link).group(1)).query)["cursor"][0]
    return cursor, json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _encode(payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


sort_keys = st.one_of(
    texts,
    st.builds(lambda t: "EV#" + t, texts),
    st.builds(lambda d, i: f"EV#{d}#{i}", dates, st.integers(-1, 10**17)),
    st.sampled_from(["EV#~~~~~~~~", "EV#\ud800", "EV#", "ET#0000000000000001", "EV#9999-12-31T23:59:59Z#~"]),
)


@budget(60)
@seed(SEED)
@given(data=st.data())
@example(data=None)
def test_a_cursor_this_api_did_not_issue_is_a_400(world: dict[str, Any], data: Any) -> None:
    """Random bytes, and the API's own cursor with its position or fingerprint altered: 400 naming the cursor."""
    cursor, payload = _real_cursor()
    if data is None:
        forged = _encode({**payload, "a": "EV#~~~~~~~~"})
    else:
        how = data.draw(st.sampled_from(["bytes", "position", "fingerprint", "json"]), label="how")
        if how == "bytes":
            forged = base64.urlsafe_b64encode(data.draw(st.binary(max_size=200))).decode().rstrip("=")
        elif how == "position":
            forged = _encode({**payload, "a": data.draw(sort_keys, label="position")})
        elif how == "fingerprint":
            forged = _encode({**payload, "f": data.draw(texts, label="fingerprint")})
        else:
            forged = _encode(data.draw(hostile_json, label="json"))
    event = event_of("list_member_events")
    event["queryStringParameters"] = {"cursor": forged}
    event["multiValueQueryStringParameters"] = {"cursor": [forged]}
    result = assert_survives(world, "list_member_events", event)
    if forged != cursor:
        assert result.status == 400
        assert [e["field"] for e in result.body["errors"]] == ["query.cursor"]


@budget(30)
@seed(SEED)
@given(position=st.one_of(texts, st.integers(-(2**60), 2**60).map(str)))
def test_a_members_cursor_holds_a_member_id_or_is_a_400(world: dict[str, Any], position: str) -> None:
    """The members listing's cursor, forged with the right fingerprint (it is no secret) around any position."""
    from emma_events.paging import encode_cursor

    forged = encode_cursor(position, (ACCOUNT,))
    event = event_of("list_members")
    event["queryStringParameters"] = {"cursor": forged, "limit": "5"}
    event["multiValueQueryStringParameters"] = {"cursor": [forged], "limit": ["5"]}
    result = assert_survives(world, "list_members", event)
    plain = position.isascii() and position.isdigit() and position == str(int(position)) and 0 < int(position) < 2**53
    assert result.status == (200 if plain else 400), (position, result.body)


def test_a_cursor_is_bound_to_its_member(world: dict[str, Any]) -> None:
    """Member 2's listing refuses member 1's cursor, though both are the same account's."""
    assert new_member(ACCOUNT, "bob@example.com") == 2
    cursor, _ = _real_cursor()
    event = api_event("list_member_events", path={"account_id": ACCOUNT, "member_id": 2}, query={"cursor": cursor})
    result = invoke("list_member_events", event)
    assert result.status == 400
    assert result.body["errors"][0]["type"] == "cursor_mismatch"


@budget(60)
@seed(SEED)
@given(
    authorization=st.one_of(
        texts,
        st.builds(lambda t: "Basic " + t, texts),
        st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=300)),
        st.builds(
            lambda a, b: "Basic " + base64.b64encode(f"{a}:{b}".encode("utf-8", "surrogatepass")).decode(), texts, texts
        ),
    )
)
def test_the_authorizer_refuses_any_credentials_it_did_not_issue(world: dict[str, Any], authorization: str) -> None:
    note(f"seed: HYPOTHESIS_SEED={SEED} repeats this run")
    event = load_event("authorizer")
    event["headers"] = {"Authorization": authorization}
    before = snapshot(world["items"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(event)
    assert snapshot(world["items"]) == before


def _authorize(event: dict[str, Any]) -> Any:
    from devtools.local_stack.worker import LambdaContext

    return load_function("authorizer").lambda_handler(event, LambdaContext(function_name="authorizer"))


def test_the_authorizer_control_accepts_its_own_key(world: dict[str, Any]) -> None:
    """A control for the test above: the key it refuses the guesses of is accepted."""
    from emma_events.auth import Credentials
    from emma_events.stores import api_keys

    account, public, private = DEV_KEY
    api_keys().create_api_key(account, credentials=Credentials(public, private))
    assert _authorize(authorizer_request(public, private))["policyDocument"]


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_an_empty_body_of_any_declared_type_is_a_400(world: dict[str, Any], content_type: str) -> None:
    event = api_event(
        "create_event_type", path={"account_id": ACCOUNT}, raw_body="", headers={"Content-Type": content_type}
    )
    assert assert_survives(world, "create_event_type", event).status == 400
