"""Members: add (or find by email), get, get by email and delete an account's members, with their unique emails.

Each method documents the DynamoDB calls it makes; a missing member is ``NotFound``, throttling after the SDK's
retries ``ServiceUnavailable`` (``translate_errors``).
"""

from __future__ import annotations

from typing import Any

from emma_events import keys, layout
from emma_events.dates import utc_now
from emma_events.domain import Member
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import NotFound
from emma_events.member_listing import members_page
from emma_events.transactions import AGAIN, Again, Cancelled, Part


class MemberStore(Table):
    """An account's members (``<account>#M#<id>`` partitions) and their email guards."""

    @translate_errors
    def add_member(self, account_id: int, email: str, fields: dict[str, Any] | None) -> tuple[Member, bool]:
        """The member with this email (``added`` False), or a new one (``added`` True).

        Existing: 1 x GetItem (email guard) + 1 x GetItem (member). New: 1 x GetItem + 1 x UpdateItem (id, once
        per block) + 1 x TransactWriteItems (member + guard, both ``attribute_not_exists``, + 1 on a count
        item). Of two concurrent adds of one email, the loser's guard condition fails and it returns the
        winner's member.
        """

        def attempt() -> tuple[list[Part], tuple[Member, bool] | Again]:
            existing = self.member_id_by_email(account_id, email)
            if existing is not None:
                try:
                    return [], (self.get_member(account_id, existing), False)
                except NotFound:
                    return [], AGAIN  # its guard outlived it for a moment (a delete in flight)
            member = Member(
                account_id, self.next_id(account_id, keys.MEMBER_SEQUENCE), email, fields or {}, "a", utc_now()
            )
            guard = layout.email_key(account_id, email) | {"member_id": attr_n(member.member_id)}
            return [
                Part("member", {"Put": self._put(layout.member_item(member))}),
                Part("email", {"Put": self._put(guard)}),
                Part("count", {"Update": layout.member_count_change(self.table_name, account_id, 1)}),
            ], (
                member,
                True,
            )

        def cancelled(error: Cancelled, added: tuple[Member, bool]) -> tuple[Member, bool] | Again:
            if error.failed("member"):
                return added  # its id is this request's own: an earlier attempt of it was written
            return AGAIN  # a concurrent add of the same email won (the next round returns its member), or a conflict

        return self.write(attempt, cancelled, "member")

    def member_id_by_email(self, account_id: int, email: str) -> int | None:
        """1 x GetItem (the email's guard). An address whose guard an earlier release may have keyed another way
        (``keys.legacy_email_pk``, until ``ops.rekey_emails`` moves it) costs 2 more when the first finds
        nothing: that guard, and its member, whose address must be this one under today's rule."""
        item = self._item(layout.email_key(account_id, email))
        if item:
            return int(item["member_id"]["N"])
        legacy = keys.legacy_email_pk(account_id, email)
        if legacy == keys.email_pk(account_id, email):
            return None
        old = self._item({keys.PK: attr_s(legacy), keys.SK: attr_s(keys.EMAIL_SK)})
        member = self._item(layout.member_key(account_id, int(old["member_id"]["N"]))) if old else None
        if member and keys.email_pk(account_id, member["email"]["S"]) == keys.email_pk(account_id, email):
            return int(member["member_id"]["N"])
        return None

    @translate_errors
    def get_member(self, account_id: int, member_id: int) -> Member:
        """1 x GetItem (strongly consistent). ``NotFound`` when the account has no such member."""
        return layout.member_of(self._member_item(account_id, member_id))

    def _member_item(self, account_id: int, member_id: int) -> Item:
        """The member's item as stored (its index key included): 1 x GetItem, strongly consistent."""
        item = self._item(layout.member_key(account_id, member_id))
        if item is None:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        return item

    @translate_errors
    def get_member_by_email(self, account_id: int, email: str) -> Member:
        """1 x GetItem (email guard) + 1 x GetItem (member)."""
        member_id = self.member_id_by_email(account_id, email)
        if member_id is None:
            raise NotFound(f"No member with email {email!r} in account {account_id}.")
        return self.get_member(account_id, member_id)

    @translate_errors
    def delete_member(self, account_id: int, member_id: int) -> None:
        """Delete a member and free its email. 1 x GetItem + 1 x TransactWriteItems (member + email guard, - 1 on a
        count item when it was counted).

        The member's events are deleted afterwards by the stream-triggered cascade, not in this request. A member
        gone since this request read it (a concurrent delete, or a resend of this very write) is a success.
        """
        key = layout.member_key(account_id, member_id)

        def transaction(item: Item) -> list[dict[str, Any]]:
            member = layout.member_of(item)
            guard, mine = layout.email_key(account_id, member.email), {":id": attr_n(member_id)}
            # a member added by a release before the Members index is neither indexed nor counted until
            # ops.index_members runs: the condition holds the count to what was read
            indexed = keys.MEMBER_INDEX_PK in item
            held = (
                f"attribute_exists({keys.MEMBER_INDEX_PK})"
                if indexed
                else f"attribute_exists(PK) AND attribute_not_exists({keys.MEMBER_INDEX_PK})"
            )
            items = [{"Delete": self._delete(key, held)}]
            if indexed:
                items.append({"Update": layout.member_count_change(self.table_name, account_id, -1)})
            legacy = keys.legacy_email_pk(account_id, member.email)
            if legacy == guard[keys.PK]["S"]:
                return [*items, {"Delete": self._delete(guard, "member_id = :id", mine)}]
            # its guard may still be where an earlier release keyed it (until ops.rekey_emails): whichever it is
            old = {keys.PK: attr_s(legacy), keys.SK: attr_s(keys.EMAIL_SK)}
            either = "attribute_not_exists(PK) OR member_id = :id"
            return [*items, *({"Delete": self._delete(g, either, mine)} for g in (guard, old))]

        self.delete_what_was_read(key, lambda: self._member_item(account_id, member_id), transaction, "member")

    @translate_errors
    def count_members(self, account_id: int) -> int:
        """How many members the account has: 1 x BatchGetItem of its 64 count items, strongly consistent."""
        wanted = [layout.member_count_key(account_id, item) for item in range(keys.MEMBER_COUNT_ITEMS)]
        return sum(int(item["members"]["N"]) for item in self._batch_get(wanted).values())

    @translate_errors
    def list_members(
        self, account_id: int, *, offset: int = 0, limit: int, after: int | None = None
    ) -> tuple[list[Member], int | None]:
        """The account's members by id: ``limit`` of them after the first ``offset`` (after member ``after``),
        and the id to continue after (None: there are no more). Queries of the 16 shards of the ``Members`` index
        side by side, each for its share of the page and a margin (member ids are spread by a hash); merged, and
        read further only where a shard falls short (member_listing.py)."""
        return members_page(self, account_id, offset + limit, after, offset)
