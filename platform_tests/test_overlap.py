"""engine/overlap.py: a side action's outcome is never lost, and the step never moves on before it ends."""
import threading
import time

import pytest

from lakehouse.engine.overlap import alongside


def test_the_side_action_runs_while_the_block_does_and_is_waited_for():
    started, finished = threading.Event(), []

    def side():
        started.set()
        time.sleep(0.2)
        finished.append(True)
        return 42

    with alongside(side) as pending:
        assert started.wait(5)  # already running while the block works
    assert finished == [True] and pending.result() == 42


def test_the_side_action_error_fails_a_block_that_succeeded():
    def side():
        raise OSError("quarantine commit refused")

    with pytest.raises(OSError, match="quarantine commit refused"):
        with alongside(side):
            pass


def test_the_block_error_wins_and_still_waits_for_the_side_action():
    finished = []

    def side():
        time.sleep(0.2)
        finished.append(True)
        raise OSError("second")

    with pytest.raises(ValueError, match="contract failed"):
        with alongside(side):
            raise ValueError("contract failed")
    assert finished == [True]  # what the step releases next is no longer in use
