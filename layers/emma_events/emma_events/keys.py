"""Every key and key prefix of the single table, in one place (docs/data-model.md).

All items of an account live under partition keys that *begin with the account id*: the account's own
partition is the bare id (``"100"``); later sub-partitions are ``"100#…"``. An IAM ``dynamodb:LeadingKeys``
condition of ``["100", "100#*"]`` therefore confines a principal to one account.
"""

from __future__ import annotations

import re
import string

PK = "PK"
SK = "SK"

#: Sort key of the per-account id sequences (one numeric attribute per sequence).
SEQUENCE_SK = "SEQ"
EVENT_TYPE_SEQUENCE = "event_type_seq"
#: The account's fields' ids, in an item of their own (``FIELDSEQ``): a creation advances it in its transaction.
FIELD_SEQUENCE = "field_seq"
FIELD_SEQUENCE_SK = "FIELDSEQ"

EVENT_TYPE_PREFIX = "ET#"
EVENT_TYPE_NAME_PREFIX = "ETNAME#"
#: Member fields (Emma's ``/fields``) of the account's partition, by id, and their shortcut names' guards.
FIELD_PREFIX = "FIELD#"
FIELD_NAME_PREFIX = "FIELDNAME#"
#: Zero-padding keeps the lexical order of sort keys equal to the numeric order of ids (2**53 has 16 digits).
ID_WIDTH = 16
#: Ids are positive integers that stay exact in JavaScript (``Number.MAX_SAFE_INTEGER``), the one definition.
MAX_ID = 2**53 - 1


def account_pk(account_id: int) -> str:
    return str(account_id)


def event_type_sk(event_type_id: int) -> str:
    return f"{EVENT_TYPE_PREFIX}{event_type_id:0{ID_WIDTH}d}"


def field_sk(field_id: int) -> str:
    return f"{FIELD_PREFIX}{field_id:0{ID_WIDTH}d}"


#: The account's item listing the event types being removed (their events not all deleted yet): the listings
#: leave those types' events out, so a delete is visible at once.
REMOVALS_SK = "REMOVING"


def event_type_name_sk(event_type: str) -> str:
    """The uniqueness guard of an event type's name within its account."""
    return f"{EVENT_TYPE_NAME_PREFIX}{event_type}"


# ---- members: each member has a partition of its own, shared with its events ----------------------------------
MEMBER_SEQUENCE = "member_seq"
MEMBER_SK = "MEMBER"
EMAIL_SK = "EMAIL"


def member_pk(account_id: int, member_id: int) -> str:
    return f"{account_id}#M#{member_id}"


#: The account's members by id (``Members`` index, all attributes), spread over this many keys by member id:
#: each index key takes at most 1,000 writes a second on AWS, so one key would cap an account's adds there.
MEMBER_INDEX = "Members"
MEMBER_INDEX_PK = "GSI3PK"
MEMBER_INDEX_SK = "GSI3SK"
MEMBER_INDEX_SHARDS = 16
#: An account's member count, in this many items (``members``) that only sum to it: each add or delete changes one
#: of them at random in its transaction, so concurrent adds rarely meet (a transaction touching an item of another
#: in flight is cancelled); a count reads them all in one BatchGetItem.
MEMBER_COUNT_ITEMS = 64
MEMBER_COUNT_SK = "COUNT"


def member_shard(member_id: int) -> int:
    """The member's key of the ``Members`` index: the top 4 bits of a multiplicative (Fibonacci) hash of its id.
    Ids come in blocks of 100 per container (ids.py): ``id mod 16`` would put a container's first ids of each
    block on 4 of the 16 keys (100 = 4 mod 16)."""
    return ((member_id * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 60


def member_index_pk(account_id: int, shard: int) -> str:
    return f"{account_id}#MS#{shard}"


def member_index_sk(member_id: int) -> str:
    return f"{member_id:0{ID_WIDTH}d}"


def member_count_pk(account_id: int, item: int) -> str:
    return f"{account_id}#MC#{item}"


#: ASCII's upper-case letters to lower case, and nothing else.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def email_pk(account_id: int, email: str) -> str:
    """The uniqueness guard of a member's email (normalized: NFC, the domain by IDNA): ASCII letters compare in
    either case, every other character exactly. No Unicode case folding (``str.lower`` turns "ÉMILE" into "émile"),
    which would make two mailboxes one member (docs/api.md, "Members")."""
    return f"{account_id}#E#{email.translate(_ASCII_LOWER)}"


def legacy_email_pk(account_id: int, email: str) -> str:
    """The guard's key before ``email_pk`` (``str.lower``): ``python -m ops.rekey_emails`` moves those it differs
    from."""
    return f"{account_id}#E#{email.lower()}"


# ---- member events: in the member's partition, sorted by timestamp then id ----------------------------------
EVENT_SEQUENCE = "event_seq"
EVENT_PREFIX = "EV#"
#: Keys-only index of events by type, for the cascade delete of a type.
TYPE_INDEX = "ByType"
TYPE_INDEX_PK = "GSI1PK"
TYPE_INDEX_SK = "GSI1SK"


def event_sk(timestamp: str, event_id: int) -> str:
    """``timestamp`` is the stored form (``YYYY-MM-DDTHH:MM:SSZ``), which sorts as time."""
    return f"{EVENT_PREFIX}{timestamp}#{event_id:0{ID_WIDTH}d}"


_EVENT_SK = re.compile(rf"EV#\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}Z#\d{{{ID_WIDTH}}}", re.ASCII)


def is_event_sk(value: str) -> bool:
    """Whether ``value`` has the form of :func:`event_sk` (a cursor's position is checked with it)."""
    return _EVENT_SK.fullmatch(value) is not None


#: Events of one member and one type, by time (GSI2PK = "<account>#M#<member>#T#<type>", sort key SK): a
#: listing filtered by type reads only what it returns.
MEMBER_TYPE_INDEX = "ByMemberType"
MEMBER_TYPE_INDEX_PK = "GSI2PK"


def member_type_pk(account_id: int, member_id: int, event_type_id: int) -> str:
    return f"{member_pk(account_id, member_id)}#T#{event_type_id}"


#: A member's event counts per hour, day and month (counts.py), in its partition: ``C#<scope>#<period>``.
COUNT_PREFIX = "C#"
#: A member's totals of one type (count and value, all time), in its partition: ``CT#<type id>``, side by side
#: so that one Query reads every type's.
TOTALS_PREFIX = "CT#"
#: Set on an event once its value and totals are counted (``ops.tally_events`` counts those of releases before).
TALLIED = "tallied"


#: The members who did a type, by UTC day (``<account>#TD#<type>#2026-11-20``) and of all time
#: (``<account>#TD#<type>``), sort key the member (16 digits): the keys-only ``MembersByType`` index over a member's
#: day count item and totals item of the type, which the POST's transaction sets (searches: search_eval.py).
MEMBERS_BY_TYPE_INDEX = "MembersByType"
MEMBERS_BY_TYPE_PK = "GSI4PK"
MEMBERS_BY_TYPE_SK = "GSI4SK"


def members_by_type_pk(account_id: int, event_type_id: int, day: str | None = None) -> str:
    """The index key of a type's members of one UTC day (``YYYY-MM-DD``), or of all time (``day`` None)."""
    return f"{account_id}#TD#{event_type_id}" + ("" if day is None else f"#{day}")


_TYPE_COUNT_SK = re.compile(rf"(?:C#(\d{{{ID_WIDTH}}})#D#(\d{{4}}-\d{{2}}-\d{{2}})|CT#(\d{{{ID_WIDTH}}}))", re.ASCII)


def members_by_type_keys(pk: str, sk: str) -> tuple[str, str] | None:
    """The ``MembersByType`` key of a member's count item (``pk``, ``sk``): its day item of a type, or its totals
    item of a type; None for every other item (all types' items, months, years)."""
    found = _TYPE_COUNT_SK.fullmatch(sk)
    account, marker, member = pk.partition("#M#")
    if found is None or not marker or not member.isdigit():
        return None
    type_id = int(found.group(1) or found.group(3))
    return members_by_type_pk(int(account), type_id, found.group(2)), f"{int(member):0{ID_WIDTH}d}"


# ---- saved searches: in the account's partition, by id --------------------------------------------------------
SEARCH_SEQUENCE = "search_seq"
SEARCH_PREFIX = "SEARCH#"


def search_sk(search_id: int) -> str:
    return f"{SEARCH_PREFIX}{search_id:0{ID_WIDTH}d}"


#: A large search's runs outside the request (search_runs.py): its run item (``RUN``), in a partition of its own,
#: and each run's sorted member ids in chunks, each in a partition of its own (a run writes thousands at once).
SEARCH_RUN_SK = "RUN"
SEARCH_CHUNK_SK = "IDS"


def search_run_pk(account_id: int, search_id: int) -> str:
    return f"{account_id}#SR#{search_id}"


def search_slots_pk(account_id: int) -> str:
    """The account's slots of runs on their way (``SLOT#<n>``): how many it may have at once."""
    return f"{account_id}#SRS"


def search_chunk_pk(account_id: int, search_id: int, written: str, chunk: int) -> str:
    """Chunk ``chunk`` of the ids a run wrote (``written``: that attempt's token)."""
    return f"{account_id}#SR#{search_id}#{written}#{chunk}"


#: A type's stats (type_rollups.py): its events per UTC quarter-hour in an item per day (``D#2026-11-20``) and per
#: day in an item per month (``M#2026-11``), in the type's partition, kept by the stream's consumer.
def type_stats_pk(account_id: int, event_type_id: int) -> str:
    return f"{account_id}#TS#{event_type_id}"


#: That an event's insert (``in``) or removal (``out``) was added to its type's stats: exactly once per event.
def rollup_marker_pk(account_id: int, event_id: int) -> str:
    return f"{account_id}#RL#{event_id}"


ROLLUP_MARKER_SK = "RL"


#: A type's events are spread over this many ``ByType`` keys by member (each key takes at most 1,000 writes a
#: second on AWS): a type takes 16,000 events a second, and its cascade deletes the keys in parallel.
TYPE_INDEX_SHARDS = 16


def type_index_pk(account_id: int, event_type_id: int, member_id: int | None) -> str:
    """The ``ByType`` key of a type's events of one member; ``member_id`` None: the one key that releases before
    gave all of a type's events (the cascade reads it too)."""
    if member_id is None:
        return f"{account_id}#T#{event_type_id}"
    return f"{account_id}#T#{event_type_id}#{member_id % TYPE_INDEX_SHARDS}"


def type_index_sk(member_id: int, event_id: int) -> str:
    return f"{member_id:0{ID_WIDTH}d}#{event_id:0{ID_WIDTH}d}"


# ---- idempotency records of POST /events/members --------------------------------------------------------------


def idempotency_pk(account_id: int, key: str) -> str:
    """A record's own partition: an account's POSTs with keys spread over as many partitions as keys."""
    return f"{account_id}#IK#{key}"


IDEMPOTENCY_SK = "IK"


def legacy_idempotency_pk(account_id: int) -> str:
    """Where releases before kept every record of an account (sort key: the key); read until they expire."""
    return f"{account_id}#IK"


# ---- cascades: one item per parent whose events are being deleted, and a cursor per range of them ----------------


def cascade_pk(account_id: int) -> str:
    """The partition of an account's cascades: one item each, its ranges and the ones finished."""
    return f"{account_id}#CASCADE"


def cascade_sk(kind: str, parent_id: int) -> str:
    """``kind`` is ``event_type`` or ``member``."""
    return f"{kind}#{parent_id}"


def cascade_range_pk(account_id: int, kind: str, parent_id: int, part: str) -> str:
    """A range's cursor, in a partition of its own: its stream records go to a lane of their own, so that the
    ranges of one cascade are deleted by as many invocations side by side (``ParallelizationFactor``)."""
    return f"{account_id}#CASCADE#{kind}#{parent_id}#{part}"


CASCADE_RANGE_SK = "RANGE"


# ---- API keys: found by public key (the authorizer's only access pattern), listed per account ------------------
API_KEY_SK = "KEY"
API_KEY_REF_PREFIX = "APIKEY#"


def api_key_pk(public_key: str) -> str:
    """The one partition that does not begin with an account id: the authorizer knows only the public key."""
    return f"KEY#{public_key}"


def api_key_ref_sk(public_key: str) -> str:
    return f"{API_KEY_REF_PREFIX}{public_key}"
