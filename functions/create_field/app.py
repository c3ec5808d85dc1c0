"""POST /{account_id}/fields: create a member field; answers its id, as Emma does."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.field_models import FieldCreateRequest
from emma_events.stores import fields


@route("POST", "/{account_id}/fields", "Create a member field")
def create_field(account_id: AccountId, body: FieldCreateRequest) -> int:
    created = fields().create_field(
        account_id, body.shortcut_name, body.display_name, body.field_type, body.widget_type, body.column_order
    )
    return created.field_id


lambda_handler = lambda_handler_for(create_field)
