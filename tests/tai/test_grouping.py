"""Grouping properties (hypothesis): what differs between runs of one failure (ids, numbers,
timestamps, emails, hosts, line numbers, paths above the app, dependency frames) never
changes its fingerprint; what names the failure (the app's frames, the error type, the
message's words) does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from domain.tai import grouping

ints = st.integers(min_value=0, max_value=10**12)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
)
hexes = st.binary(min_size=12, max_size=12).map(lambda b: "ab" + b.hex()[2:])
runs = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


def message(order: int, object_id: str, at: str, user: int, ident: uuid.UUID) -> str:
    return (
        f"order {order} ({object_id}) failed at {at} for user{user}@example.com "
        f"on api-{user % 9}.staging.example.com, request {ident}"
    )


def stack(run: str, line: int, vendor_line: int) -> str:
    return (
        "Error: boom\n"
        f"    at placeOrder (/ci/{run}/app/src/orders/place.ts:{line}:7)\n"
        f"    at Runner.run (/ci/{run}/app/node_modules/mocha/lib/runner.js:{vendor_line}:1)\n"
        f"    at checkout (/ci/{run}/app/src/checkout/index.ts:{line + 3}:2)"
    )


@given(
    a=st.tuples(ints, hexes, times, ints, st.uuids()),
    b=st.tuples(ints, hexes, times, ints, st.uuids()),
)
def test_run_values_never_split_a_message_group(a: tuple, b: tuple) -> None:
    assert grouping.normalise(message(*a)) == grouping.normalise(message(*b))
    first = grouping.group(
        fingerprint=None, stack=None, error_type="E", message=message(*a), test_id="t1"
    )
    second = grouping.group(
        fingerprint=None, stack=None, error_type="E", message=message(*b), test_id="t2"
    )
    assert first.hash == second.hash and first.kind == "message"


@given(
    runs,
    runs,
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.integers(1, 99),
    st.integers(1, 99),
)
def test_paths_line_numbers_and_vendor_frames_never_split_a_stack_group(
    run_a: str, run_b: str, line_a: int, line_b: int, vendor_a: int, vendor_b: int
) -> None:
    def of(run: str, line: int, vendor: int) -> str:
        return grouping.group(
            fingerprint=None,
            stack=stack(run, line, vendor),
            error_type="Error",
            message=f"boom {line}",
            test_id="t",
        ).hash

    assert of(run_a, line_a, vendor_a) == of(run_b, line_b, vendor_b)


@given(st.sampled_from(["shipOrder", "cancelOrder", "refund"]))
def test_another_app_frame_or_error_type_is_another_group(function: str) -> None:
    base = stack("r", 10, 1)
    other = base.replace("placeOrder", function)
    one = grouping.group(fingerprint=None, stack=base, error_type="Error", message="", test_id="t")
    two = grouping.group(fingerprint=None, stack=other, error_type="Error", message="", test_id="t")
    three = grouping.group(
        fingerprint=None, stack=base, error_type="TypeError", message="", test_id="t"
    )
    assert len({one.hash, two.hash, three.hash}) == 3


@given(st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and not t.isdigit()))
def test_an_explicit_fingerprint_wins(part: str) -> None:
    a = grouping.group(
        fingerprint=[part], stack=stack("a", 1, 1), error_type="E", message="x", test_id="a"
    )
    b = grouping.group(fingerprint=[part], stack=None, error_type="F", message="y", test_id="b")
    assert a.hash == b.hash and a.kind == "fingerprint"
