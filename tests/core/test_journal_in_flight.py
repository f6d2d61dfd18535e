"""An intent without outcome is either being sent (in flight) or was interrupted (結果不明).

The difference decides what the operator is told (another operation in progress vs 結果不明)
and whether recovery may resend it (issue 10 item 1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from core.journal import REMOTE_IN_FLIGHT_SECONDS, in_flight, mark_done, mark_running, owner_record


def test_this_process_is_in_flight_only_while_it_sends_the_intent() -> None:
    owner = owner_record()
    assert not in_flight(101, owner)
    mark_running([101])
    assert in_flight(101, owner) and not in_flight(102, owner)
    mark_done([101])
    assert not in_flight(101, owner)


def test_another_live_process_is_in_flight_a_dead_or_unreaped_one_is_not() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        owner = {**owner_record(), "pid": child.pid, "start": None}
        assert in_flight(1, owner)
        child.send_signal(signal.SIGKILL)
        time.sleep(0.2)  # killed, not yet reaped: a zombie sends nothing
        assert not in_flight(1, owner)
    finally:
        child.kill()
        child.wait()
    assert not in_flight(1, {**owner_record(), "pid": child.pid, "start": None})


def test_a_reused_pid_is_not_taken_for_the_writer() -> None:
    owner = {**owner_record(), "pid": os.getppid(), "start": "1"}  # alive, but started at another time
    assert not in_flight(1, owner)


def test_a_writer_on_another_computer_is_trusted_for_a_while() -> None:
    remote = {"host": socket.gethostname() + "-other", "pid": 1, "start": None, "wall": time.time()}
    assert in_flight(1, remote)
    assert not in_flight(1, {**remote, "wall": time.time() - REMOTE_IN_FLIGHT_SECONDS - 1})


def test_an_intent_written_before_owners_were_recorded_is_not_in_flight() -> None:
    assert not in_flight(1, None)
    assert not in_flight(1, {})
