"""Member fields' models: ``POST /{account_id}/fields`` and the field answers, in Emma's shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints

from emma_events.keys import MAX_ID
from emma_events.models import DisplayName, RequestModel, ResponseModel

ShortcutName = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$"),
    Field(
        description="The key members' `fields` hold it under: a letter, then letters, digits or `_`.",
        examples=["favorite_food"],
    ),
]
#: Emma's field and widget types.
FieldType = Literal["text", "text[]", "numeric", "boolean", "date", "timestamp"]
WidgetType = Literal[
    "text", "long", "checkbox", "select_multiple", "check_multiple", "radio", "date", "select_one", "number"
]


class FieldCreateRequest(RequestModel):
    """Body of ``POST /{account_id}/fields``."""

    shortcut_name: ShortcutName
    display_name: DisplayName
    field_type: FieldType = "text"
    widget_type: WidgetType = "text"
    column_order: Annotated[StrictInt | None, Field(gt=0, le=MAX_ID, description="Default: the field's id.")] = None


class FieldResponse(ResponseModel):
    """A field as Emma answers it (the attributes this API does not keep have Emma's values for none)."""

    field_id: int
    account_id: int
    shortcut_name: str
    display_name: str
    field_type: str
    widget_type: str
    column_order: int
    required: bool = False
    short_display_name: str | None = None
    deleted_at: None = None
    options: list[str] | None = None
