"""Member fields (Emma's ``/fields``): Emma's two default fields, and those an account creates, with unique
shortcut names.

Emma's clients read an account's fields before they write a member: EmmaPython's ``Member.save`` sends only the
fields the account lists. A member's ``fields`` may still hold any key (docs/api.md, "Fields").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from emma_events import keys, layout
from emma_events.domain import MemberField
from emma_events.dynamo import Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import FieldExists, reject
from emma_events.transactions import AGAIN, Again, Cancelled, Part

#: Every account has Emma's two default fields, ids 1 and 2; created fields take the ids after them.
DEFAULT_FIELDS = (("first_name", "First Name"), ("last_name", "Last Name"))
#: Fields an account may create: a listing or a count reads at most this many items.
MAX_FIELDS = 200


def default_fields(account_id: int) -> list[MemberField]:
    return [
        MemberField(account_id, number, name, display, "text", "text", number)
        for number, (name, display) in enumerate(DEFAULT_FIELDS, start=1)
    ]


class FieldStore(Table):
    """An account's created fields (``FIELD#<id>`` items of the account's partition) and their name guards."""

    @translate_errors
    def create_field(
        self,
        account_id: int,
        shortcut_name: str,
        display_name: str,
        field_type: str,
        widget_type: str,
        column_order: int | None,
    ) -> MemberField:
        """A new field. 1 x GetItem (the account's fields' sequence) + 1 x TransactWriteItems: it advanced on
        condition that it is still the value read and below ``MAX_FIELDS``, the field and its name guard (both
        ``attribute_not_exists``). Ids are dense and the cap exact: a creation refused (a name taken, a
        concurrent creation) takes no id. Of two concurrent creations of one name, one wins."""
        if shortcut_name in {name for name, _ in DEFAULT_FIELDS}:
            raise FieldExists(_taken(shortcut_name))
        sequence = {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.FIELD_SEQUENCE_SK)}
        guard_key = layout.field_name_guard(account_id, shortcut_name)

        def attempt() -> tuple[list[Part], MemberField]:
            created = int((self._item(sequence) or {}).get(keys.FIELD_SEQUENCE, {}).get("N", 0))
            if created >= MAX_FIELDS:
                reject("body.shortcut_name", f"an account creates at most {MAX_FIELDS} fields", "too_many_fields")
            field_id = created + 1 + len(DEFAULT_FIELDS)
            field = MemberField(
                account_id, field_id, shortcut_name, display_name, field_type, widget_type, column_order or field_id
            )
            advance = {
                "TableName": self.table_name,
                "Key": sequence,
                "UpdateExpression": "SET #seq = :next",
                "ConditionExpression": "#seq = :read" if created else "attribute_not_exists(#seq)",
                "ExpressionAttributeNames": {"#seq": keys.FIELD_SEQUENCE},
                "ExpressionAttributeValues": {":next": attr_n(created + 1)}
                | ({":read": attr_n(created)} if created else {}),
            }
            return [
                Part("sequence", {"Update": advance}),
                Part("field", {"Put": self._put(layout.field_item(field))}),
                Part("name", {"Put": self._put(guard_key | {"field_id": attr_n(field_id)})}),
            ], field

        def cancelled(error: Cancelled, _: MemberField) -> MemberField | Again:
            # (the SDK resends a transaction with its client token: a resend of one written is a success there)
            if error.failed("name"):
                raise FieldExists(_taken(shortcut_name)) from error
            return AGAIN  # another field took this id first (or a conflict): read the sequence again

        return self.write(attempt, cancelled, f"field {shortcut_name!r}")

    @translate_errors
    def list_fields(self, account_id: int, *, offset: int = 0, limit: int | None = None) -> list[MemberField]:
        """The default fields, then the created ones by id; ``limit`` of them after the first ``offset``.
        Query of the account's ``FIELD#`` items (at most ``MAX_FIELDS``), none when the defaults fill the page."""
        defaults = default_fields(account_id)
        wanted = None if limit is None else offset + limit
        created: Iterator[MemberField] = iter(())
        if wanted is None or wanted > len(defaults):
            rest = None if wanted is None else wanted - len(defaults)
            created = (layout.field_of(item) for item in self._query_prefix(account_id, keys.FIELD_PREFIX, rest))
        return list(itertools.islice(itertools.chain(defaults, created), offset, wanted))

    @translate_errors
    def count_fields(self, account_id: int) -> int:
        """The default fields and the created ones: Query ``Select=COUNT`` of at most ``MAX_FIELDS`` items."""
        return len(DEFAULT_FIELDS) + self._count(self._prefix_query(account_id, keys.FIELD_PREFIX))


def _taken(shortcut_name: str) -> str:
    return f"The account already has a field named {shortcut_name!r}."
