"""What the local stack shows to whom (devtools/local_stack/exposure.py): the rules, without a stack."""

from __future__ import annotations

import pytest

from devtools.local_stack import exposure, server

EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - compared with, never bound here


@pytest.mark.parametrize("remote", ["203.0.113.7", "192.0.2.1", "::ffff:203.0.113.7", "", None])
def test_local_routes_refuse_clients_beyond_this_machine(remote: str | None) -> None:
    refused = exposure.refusal("/_local/eventbridge", "127.0.0.1:3000", remote, EVERY_INTERFACE)
    assert refused is not None
    assert refused[0] == 403


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.0.0.2", "::1"])
def test_local_routes_answer_loopback_clients(remote: str) -> None:
    assert exposure.refusal("/_local/eventbridge", "127.0.0.1:3000", remote, "127.0.0.1") is None


def test_api_routes_answer_any_client_of_a_served_host() -> None:
    assert exposure.refusal("/100/events", "192.0.2.10:3000", "203.0.113.7", "192.0.2.10") is None


@pytest.mark.parametrize(
    ("host", "served", "ok"),
    [
        ("127.0.0.1:3000", "127.0.0.1", True),
        ("LOCALHOST:3000", "127.0.0.1", True),
        ("[::1]:3000", "::1", True),
        ("evil.example", "127.0.0.1", False),
        ("192.0.2.10", "127.0.0.1", False),
        ("192.0.2.10:3000", EVERY_INTERFACE, True),  # every interface: any address literal, never a name
        ("evil.example:3000", EVERY_INTERFACE, False),
        ("", "127.0.0.1", False),
        (None, "127.0.0.1", False),
    ],
)
def test_only_the_served_address_or_localhost_is_a_served_host(host: str | None, served: str, ok: bool) -> None:
    refused = exposure.refusal("/100/events", host, "127.0.0.1", served)
    assert (refused is None) == ok
    if refused:
        assert refused[0] == 421


@pytest.mark.parametrize("host", [EVERY_INTERFACE, "192.0.2.10", "::"])
def test_the_stack_will_not_serve_beyond_loopback_with_the_development_key(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LOCAL_API_KEYS", raising=False)
    assert server.main(["--host", host, "--state-file", ""]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "LOCAL_API_KEYS" in lines[0]


def test_keys_of_your_own_lift_the_refusal() -> None:
    assert exposure.listen_refusal(EVERY_INTERFACE, "127.0.0.1", "100:pub:priv") is None
    assert exposure.listen_refusal("127.0.0.1", "127.0.0.1", None) is None


def test_the_embedded_dynamodb_never_listens_on_every_interface(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LOCAL_API_KEYS", raising=False)
    assert server.main(["--host", "127.0.0.1", "--dynamodb-host", EVERY_INTERFACE, "--state-file", ""]) == 2
    assert "docker0" in capsys.readouterr().err
    assert exposure.listen_refusal("127.0.0.1", "172.17.0.1", None) is None  # the Docker bridge's address
