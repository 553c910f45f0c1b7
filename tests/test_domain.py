"""The lifecycle table, reference numbers and callback parsing, on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Status,
    allowed_actions,
    next_status,
)
from domain.refs import format_ref, normalize_ref
from services.kernel.actions import ActionCodec, Forged, Press


def test_happy_path_through_the_lifecycle() -> None:
    s = Status.RECEIVED
    for action in (Action.ASSIGN, Action.ACKNOWLEDGE, Action.PROGRESS, Action.CLOSE, Action.RATE):
        s = next_status(action, s)
    assert s == Status.RATED


def test_unsatisfied_reopens_and_can_be_assigned_again() -> None:
    assert next_status(Action.RATE_UNSATISFIED, Status.CLOSED) == Status.REOPENED
    assert next_status(Action.ASSIGN, Status.REOPENED) == Status.ASSIGNED


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_states_allow_nothing(status: Status) -> None:
    assert allowed_actions(status) == frozenset()
    for action in Action:
        with pytest.raises(IllegalTransition):
            next_status(action, status)


def test_withdraw_only_before_assignment() -> None:
    assert next_status(Action.WITHDRAW, Status.RECEIVED) == Status.WITHDRAWN
    for status in (Status.ASSIGNED, Status.IN_PROGRESS, Status.CLOSED):
        with pytest.raises(IllegalTransition) as err:
            next_status(Action.WITHDRAW, status)
        assert err.value.current == status


def test_second_assign_is_illegal() -> None:
    once = next_status(Action.ASSIGN, Status.RECEIVED)
    with pytest.raises(IllegalTransition):
        next_status(Action.ASSIGN, once)


def test_every_status_is_reachable_from_received() -> None:
    seen = {Status.RECEIVED}
    frontier = [Status.RECEIVED]
    while frontier:
        cur = frontier.pop()
        for (_action, src), dst in TRANSITIONS.items():
            if src == cur and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(Status)


def test_reference_format() -> None:
    assert format_ref("LL", 2026, 42) == "LL-2026-00042"
    assert format_ref("HD", 2027, 1) == "HD-2027-00001"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LL-2026-00042", "LL-2026-00042"),
        ("ll-2026-00042", "LL-2026-00042"),
        (" LL－2026－00042 ", "LL-2026-00042"),
        ("LL 2026 00042", None),
        ("LL-26-42", None),
        ("'; DROP TABLE opinions; --", None),
        ("", None),
    ],
)
def test_reference_normalisation(raw: str, expected: str | None) -> None:
    assert normalize_ref(raw) == expected


NOW = datetime(2026, 9, 28, tzinfo=UTC)


def test_signed_payload_round_trip_and_forgeries() -> None:
    codec = ActionCodec(b"k" * 32)
    data = codec.encode("o", "a", 12345, 1)
    assert len(data.encode()) <= 64
    assert codec.decode(data, NOW) == Press("o", "a", (12345, 1))
    for garbage in ["", "x", "o:a:abc", "o:a:-1", "o:a:1:2:" + "9" * 70, "<b>:x", None, "o::1"]:
        assert codec.decode(garbage, NOW) is None, garbage
    # An id past 32 bits names no row: not a payload (the database would refuse it).
    assert codec.decode("o:d:3000000000", NOW) is None
    # Tampered arguments, another secret's signature, or none at all: forged.
    body, _, sig = data.partition(".")
    assert codec.decode(f"o:a:12346:1.{sig}", NOW) == Forged(Press("o", "a", (12346, 1)))
    assert isinstance(ActionCodec(b"z" * 32).decode(data, NOW), Forged)
    assert codec.decode(body, NOW) == Forged(Press("o", "a", (12345, 1)))
    with pytest.raises(ValueError):
        codec.encode("o", "a", *range(40))


def test_unsigned_pre_upgrade_payloads_work_only_in_the_legacy_window() -> None:
    codec = ActionCodec(b"k" * 32, legacy_until=NOW + timedelta(days=30))
    assert codec.decode("t:ok:5", NOW) == Press("t", "ok", (5,))
    assert codec.decode("t:ok:5", NOW + timedelta(days=31)) == Forged(Press("t", "ok", (5,)))
