"""Every key and key prefix of the single table, in one place (see README, "Data model").

All items of an account live under partition keys that *begin with the account id*: the account's own
partition is the bare id (``"100"``); later sub-partitions are ``"100#…"``. An IAM ``dynamodb:LeadingKeys``
condition of ``["100", "100#*"]`` therefore confines a principal to one account.
"""

from __future__ import annotations

PK = "PK"
SK = "SK"

#: Sort key of the per-account id sequences (one numeric attribute per sequence).
SEQUENCE_SK = "SEQ"
EVENT_TYPE_SEQUENCE = "event_type_seq"

EVENT_TYPE_PREFIX = "ET#"
EVENT_TYPE_NAME_PREFIX = "ETNAME#"
#: Zero-padding keeps the lexical order of sort keys equal to the numeric order of ids (2**53 has 16 digits).
ID_WIDTH = 16


def account_pk(account_id: int) -> str:
    return str(account_id)


def event_type_sk(event_type_id: int) -> str:
    return f"{EVENT_TYPE_PREFIX}{event_type_id:0{ID_WIDTH}d}"


def event_type_name_sk(event_type: str) -> str:
    """The uniqueness guard of an event type's name within its account."""
    return f"{EVENT_TYPE_NAME_PREFIX}{event_type}"
