"""When two addresses are one member: ASCII letters in either case, every other character as written once
normalized (NFC; the domain by IDNA), never Unicode case folding. And the move of guards keyed the old way."""

from __future__ import annotations

import io
import os
from typing import Any
from urllib.parse import quote

import pytest
from helpers import add_member, create_type, post_events

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke
from emma_events import keys

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def found(email: str, account: int = 100) -> int | None:
    path = {"account_id": account, "email": quote(email, safe="")}
    result = invoke("get_member_by_email", api_event("get_member_by_email", path=path))
    assert result.status in (200, 404), result.body
    return result.body["member_id"] if result.status == 200 else None


@pytest.mark.parametrize(
    ("upper", "lower"),
    [
        ("\u00c9MILE@example.com", "\u00e9mile@example.com"),  # É / é
        ("\u01c5x@example.com", "\u01c6x@example.com"),  # title-case Dž / dž
        ("\u03a3\u03bf\u03c6\u03af\u03b1@example.com", "\u03c3\u03bf\u03c6\u03af\u03b1@example.com"),  # sigma
        ("\u0130x@example.com", "i\u0307x@example.com"),  # İ / i + combining dot (what str.lower makes of İ)
    ],
)
def test_letters_beyond_ascii_keep_their_case(dynamodb: Any, upper: str, lower: str) -> None:
    first, second = add_member(email=upper).body, add_member(email=lower).body
    assert (first["added"], second["added"]) == (True, True)
    assert first["member_id"] != second["member_id"]
    assert found(upper) == first["member_id"]
    assert found(lower) == second["member_id"]
    local, domain = upper.split("@")
    assert found(f"{local}@{domain.upper()}") == first["member_id"]  # the domain in any case


def test_addresses_equal_once_normalized_are_one_member(dynamodb: Any) -> None:
    """U+212A KELVIN SIGN is K under NFC (RFC 6532 asks for NFC), so it is "Kate", and ASCII letters match in
    either case; the fullwidth K (U+FF2B) is only compatibility-equivalent (NFKC), so it is another address."""
    kate = add_member(email="kate@example.com").body["member_id"]
    kelvin = add_member(email="\u212aate@example.com").body
    assert kelvin == {"member_id": kate, "added": False, "status": "a"}
    assert found("\u212aATE@example.com") == kate
    fullwidth = add_member(email="\uff2bate@example.com").body
    assert fullwidth["added"] is True


def test_a_domain_in_idna_ascii_form_finds_its_member(dynamodb: Any) -> None:
    member = add_member(email="x@b\u00fccher.example").body["member_id"]
    assert found("x@xn--bcher-kva.example") == member
    assert found("X@XN--BCHER-KVA.EXAMPLE") == member
    posted = post_events(100, [{"email": "x@xn--bcher-kva.example", "event_type_id": create_type(100)}])
    assert posted.status == 200, posted.body
    assert posted.body[0]["member_id"] == member


def _key_it_the_old_way(dynamodb: Any, member: int, email: str) -> None:
    """The guard as a release before this one wrote it (``str.lower``)."""
    table = os.environ["TABLE_NAME"]
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": keys.email_pk(100, email)}, "SK": {"S": "EMAIL"}})
    legacy = {"PK": {"S": keys.legacy_email_pk(100, email)}, "SK": {"S": "EMAIL"}, "member_id": {"N": str(member)}}
    dynamodb.put_item(TableName=table, Item=legacy)


def rekey(dynamodb: Any) -> str:
    from ops.rekey_emails import main

    out = io.StringIO()
    assert main(["--table", os.environ["TABLE_NAME"]], out, client=dynamodb) == 0
    return out.getvalue()


def test_rekeying_finds_members_keyed_the_old_way_again(dynamodb: Any) -> None:
    email = "\u00c9MILE@example.com"
    member = add_member(email=email).body["member_id"]
    ascii_member = add_member(email="Ada@example.com").body["member_id"]
    _key_it_the_old_way(dynamodb, member, email)

    assert rekey(dynamodb).endswith("1 guard(s) moved, 0 already in place, 0 held\n")
    assert found(email) == member
    assert found("\u00e9mile@example.com") is None  # the old key is gone: é is another address
    assert found("ada@example.com") == ascii_member  # an ASCII address's key never changed
    assert rekey(dynamodb).endswith("0 guard(s) moved, 1 already in place, 0 held\n")


def test_a_member_keyed_the_old_way_is_found_and_deleted_before_rekeying(dynamodb: Any) -> None:
    """Between the deploy and ops.rekey_emails: the old guard is found by its member's own address (2 reads
    more, only for such addresses), so an add returns that member and its delete frees the address. Its old key
    is also another address's today key: that address still meets it until the guard is moved."""
    email = "\u00c9MILE@example.com"
    old = add_member(email=email).body["member_id"]
    _key_it_the_old_way(dynamodb, old, email)
    assert found(email) == old
    assert add_member(email=email).body == {"member_id": old, "added": False, "status": "a"}
    assert found("\u00e9mile@example.com") == old  # the old rule, until the guard is moved
    assert rekey(dynamodb).endswith("1 guard(s) moved, 0 already in place, 0 held\n")
    assert found("\u00e9mile@example.com") is None
    _key_it_the_old_way(dynamodb, old, email)
    deleted = invoke("delete_member", api_event("delete_member", path={"account_id": 100, "member_id": old}))
    assert deleted.status == 200, deleted.body
    assert found(email) is None
    assert add_member(email=email).body["added"] is True


def test_rekeying_leaves_a_key_taken_by_another_member_alone(dynamodb: Any) -> None:
    email = "\u00c9MILE@example.com"
    old = add_member(email=email).body["member_id"]
    _key_it_the_old_way(dynamodb, old, email)
    taken = {"PK": {"S": keys.email_pk(100, email)}, "SK": {"S": "EMAIL"}, "member_id": {"N": "999"}}
    dynamodb.put_item(TableName=os.environ["TABLE_NAME"], Item=taken)  # written by hand: no API path does it
    report = rekey(dynamodb)
    assert f"member {old}: {email!r} is another member's now; left alone" in report
    assert report.endswith("0 guard(s) moved, 0 already in place, 1 held\n")
