"""Tests for realtime_widget.core.ids."""

from __future__ import annotations

import os
import string

import pytest

from realtime_widget.core.errors import UsageError
from realtime_widget.core.ids import generate_id


def test_generate_id_shape_and_randomness() -> None:
    ids = {generate_id("evt_") for _ in range(2000)}
    assert len(ids) == 2000
    allowed = set(string.ascii_letters + string.digits)
    for value in ids:
        assert len(value) == 21 and value.startswith("evt_")
        assert set(value[4:]) <= allowed
    assert len(generate_id("item_", 32)) == 32
    assert len(generate_id("", 1)) == 1


@pytest.mark.parametrize(
    ("prefix", "length", "error", "message"),
    [
        ("evt_", 4, UsageError, "id length 4 leaves no room after prefix 'evt_'"),
        ("evt_", 0, UsageError, "id length 0"),
        ("evt_", 21.0, TypeError, "id length must be int, got float"),
        ("evt_", True, TypeError, "id length must be int, got bool"),
        (3, 21, TypeError, "id prefix must be str, got int"),
    ],
)
def test_generate_id_validation(
    prefix: object, length: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        generate_id(prefix, length)  # type: ignore[arg-type]


def test_ids_drawn_in_many_threads_at_once_are_all_distinct() -> None:
    import threading

    made: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(made))

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(generate_id("evt_") for _ in range(3000))  # past several pools each

    threads = [threading.Thread(target=draw, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for out in made for value in out]
    assert len(set(every)) == len(every) == 24_000
    assert len(generate_id("x", 10_000)) == 10_000  # longer than a pool


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    generate_id("evt_")  # the parent holds a pool of drawn characters now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, " ".join(generate_id("evt_") for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        in_child = set(pipe.read().split())
    os.waitpid(child, 0)
    in_parent = {generate_id("evt_") for _ in range(50)}
    assert len(in_child) == 50 and not in_child & in_parent
