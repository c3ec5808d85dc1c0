"""The table's API keys: salted digests of private keys, by public key and by account (``auth.py`` checks them)."""

from __future__ import annotations

from typing import Any

from emma_events import auth, keys
from emma_events.dates import to_storage, utc_now
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import NotFound, ServiceUnavailable
from emma_events.transactions import Cancelled, Part, transact


class ApiKeyStore(Table):
    """Creating, listing, revoking and finding API keys."""

    @translate_errors
    def create_api_key(
        self, account_id: int, usage_key: str | None = None, credentials: auth.Credentials | None = None
    ) -> auth.Credentials:
        """A new key pair for the account (or the given one); only the private key's salted digest is stored.

        1 x TransactWriteItems: the key item (by public key) and its reference in the account's partition.
        """
        credentials = credentials or auth.new_credentials()
        salt = auth.new_salt()
        created = attr_s(to_storage(utc_now()))
        key_item: Item = {
            keys.PK: attr_s(keys.api_key_pk(credentials.public_key)),
            keys.SK: attr_s(keys.API_KEY_SK),
            "entity": attr_s("api_key"),
            "account_id": attr_n(account_id),
            "public_key": attr_s(credentials.public_key),
            "salt": attr_s(salt),
            "digest": attr_s(auth.digest(salt, credentials.private_key)),
            "revoked": {"BOOL": False},
            "created_at": created,
        }
        if usage_key:
            key_item["usage_key"] = attr_s(usage_key)
        reference: Item = {
            keys.PK: attr_s(keys.account_pk(account_id)),
            keys.SK: attr_s(keys.api_key_ref_sk(credentials.public_key)),
            "entity": attr_s("api_key_ref"),
            "public_key": attr_s(credentials.public_key),
            "revoked": {"BOOL": False},
            "created_at": created,
        }
        transact(
            self.client, [Part("key", {"Put": self._put(key_item)}), Part("reference", {"Put": self._put(reference)})]
        )
        return credentials

    @translate_errors
    def list_api_keys(self, account_id: int) -> list[dict[str, Any]]:
        """The account's keys (public key, created_at, revoked). Query on the account partition."""
        return [
            {
                "public_key": item["public_key"]["S"],
                "created_at": item["created_at"]["S"],
                "revoked": item["revoked"]["BOOL"],
            }
            for item in self._query_prefix(account_id, keys.API_KEY_REF_PREFIX, None)
        ]

    @translate_errors
    def revoke_api_key(self, account_id: int, public_key: str) -> None:
        """Mark a key revoked. 1 x TransactWriteItems (the key, on condition it is the account's, and its
        reference). ``NotFound`` when the account has no such key."""
        revoke = "SET revoked = :true"
        key = {
            "TableName": self.table_name,
            "Key": {keys.PK: attr_s(keys.api_key_pk(public_key)), keys.SK: attr_s(keys.API_KEY_SK)},
            "UpdateExpression": revoke,
            "ConditionExpression": "account_id = :account",
            "ExpressionAttributeValues": {":true": {"BOOL": True}, ":account": attr_n(account_id)},
        }
        reference = {
            "TableName": self.table_name,
            "Key": {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.api_key_ref_sk(public_key))},
            "UpdateExpression": revoke,
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":true": {"BOOL": True}},
        }
        try:
            transact(self.client, [Part("key", {"Update": key}), Part("reference", {"Update": reference})])
        except Cancelled as error:
            if not error.failed():
                raise ServiceUnavailable("The key is being changed concurrently; retry the request.") from error
            raise NotFound(f"Account {account_id} has no key {public_key!r}.") from error

    @translate_errors
    def set_usage_key(self, public_key: str, usage_key: str) -> None:
        """The usage-plan key a key presents (``ops.api_keys unify``). 1 x UpdateItem, on condition the key exists."""
        self.client.update_item(
            TableName=self.table_name,
            Key={keys.PK: attr_s(keys.api_key_pk(public_key)), keys.SK: attr_s(keys.API_KEY_SK)},
            UpdateExpression="SET usage_key = :usage",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":usage": attr_s(usage_key)},
        )

    @translate_errors
    def find_api_key(self, public_key: str) -> auth.StoredKey | None:
        """The stored key for a public key. 1 x GetItem (strongly consistent, so a revocation counts at once)."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={keys.PK: attr_s(keys.api_key_pk(public_key)), keys.SK: attr_s(keys.API_KEY_SK)},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return auth.StoredKey(
            account_id=int(item["account_id"]["N"]),
            public_key=item["public_key"]["S"],
            salt=item["salt"]["S"],
            digest=item["digest"]["S"],
            revoked=item["revoked"]["BOOL"],
            created_at=item["created_at"]["S"],
            usage_key=item["usage_key"]["S"] if "usage_key" in item else None,
        )
