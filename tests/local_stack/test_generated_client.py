"""A client generated from docs/openapi.json by openapi-python-client runs the README's flow against the local stack,
its calls named as the document names the operations (``create_member_events``, grouped by tag)."""

from __future__ import annotations

import base64
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.contract.openapi import DOCUMENT
from devtools.testing.stack_process import TEST_KEYS, RunningStack

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

ACCOUNT = 1099


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The package the README's command generates (docs/api.md), imported from a folder of its own."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "config.yaml").write_text("post_hooks: []\n")  # no formatter run over it: ruff is not on PATH here
    command = [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(DOCUMENT)]
    command += ["--meta", "none", "--output-path", str(folder / "emma_events_client"), "--config", "config.yaml"]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)  # noqa: S603 - the pinned generator
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("emma_events_client")
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith("emma_events_client")]:
            del sys.modules[name]


def test_the_generated_client_runs_the_readme_flow(api_stack: RunningStack, client_package: Any) -> None:
    from emma_events_client.api.event_types import (
        create_event_type,
        delete_event_type,
        get_event_type,
        list_event_types,
        update_event_type,
    )
    from emma_events_client.api.member_events import create_member_events, list_member_events
    from emma_events_client.api.members import add_member, get_member_by_email
    from emma_events_client.api.searches import create_search, list_search_members
    from emma_events_client.models import (
        CreateMemberEventsRequest,
        EventTypeRequest,
        MemberAddRequest,
        MemberEventRequest,
        MemberEventRequestAttributesType0,
        SearchRequest,
    )

    public, private = TEST_KEYS[ACCOUNT]
    api = client_package.AuthenticatedClient(
        base_url=api_stack.base_url, token=base64.b64encode(f"{public}:{private}".encode()).decode(), prefix="Basic"
    )
    with api as client:
        purchase = create_event_type.sync(
            ACCOUNT, client=client, body=EventTypeRequest(event_type="purchase", display_name="Purchase")
        )
        assert purchase.event_type == "purchase"
        assert get_event_type.sync(ACCOUNT, purchase.event_type_id, client=client).display_name == "Purchase"
        assert [t.event_type for t in list_event_types.sync(ACCOUNT, client=client)] == ["purchase"]
        assert list_event_types.sync(ACCOUNT, client=client, count=True) == 1
        renamed = update_event_type.sync(
            ACCOUNT,
            purchase.event_type_id,
            client=client,
            body=EventTypeRequest(event_type="order", display_name="Order"),
        )
        assert renamed.event_type == "order"

        ada = add_member.sync(ACCOUNT, client=client, body=MemberAddRequest(email="ada@example.com"))
        assert get_member_by_email.sync(ACCOUNT, "ada@example.com", client=client).member_id == ada.member_id
        events = CreateMemberEventsRequest(
            events=[
                MemberEventRequest(
                    member_id=ada.member_id,
                    event_type="order",
                    event_monetary_value=19.99,
                    attributes=MemberEventRequestAttributesType0.from_dict({"sku": "A-1"}),
                ),
                MemberEventRequest(email="ada@example.com", event_type_id=purchase.event_type_id),
            ]
        )
        created = create_member_events.sync_detailed(ACCOUNT, client=client, body=events, idempotency_key="flow-1")
        assert created.status_code == 200, created.content
        assert [e.event_monetary_value for e in created.parsed] == [19.99, None]
        listed = list_member_events.sync(ACCOUNT, ada.member_id, client=client)
        assert [(e.event_type_id, e.attributes.to_dict() if e.attributes else None) for e in listed] == [
            (purchase.event_type_id, {"sku": "A-1"}),
            (purchase.event_type_id, None),
        ]
        wanted = SearchRequest(name="Ordered twice", criteria=["event_count:order", "eq", 2])
        search_id = create_search.sync(ACCOUNT, client=client, body=wanted)
        assert [m.member_id for m in list_search_members.sync(ACCOUNT, search_id, client=client)] == [ada.member_id]

        assert delete_event_type.sync(ACCOUNT, purchase.event_type_id, client=client) is True
        missing = get_event_type.sync_detailed(ACCOUNT, purchase.event_type_id, client=client)
        assert (missing.status_code, missing.parsed.title) == (404, "Not Found")
