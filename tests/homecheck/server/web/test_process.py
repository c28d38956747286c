"""The web plane's process: a graceful stop through the pipe (an in-flight request completes, the
child exits 0, nothing is logged as an error), Ctrl-C left to the parent, a crash reported by
problem() and a restart on the same socket, and no child left behind when the parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.homecheck.server.web.conftest import Running
from tests.support.web_apps import SLOW_S

TEST_APP = "tests.support.web_apps:create_test_app"
ROOT = Path(__file__).resolve().parents[4]


def test_stop_lets_an_in_flight_request_finish_then_the_child_exits_cleanly(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(app_factory=TEST_APP, log_level=20)
    pid = running.plane.pid
    answers: list[tuple[int, bytes]] = []
    request = threading.Thread(target=lambda: answers.append(running.get("/test/slow")))
    request.start()
    time.sleep(0.3)  # the request is in the child now, SLOW_S from its answer
    started = time.monotonic()
    running.plane.stop(timeout_s=5.0)
    stopped_in = time.monotonic() - started
    request.join(5)
    assert answers == [(200, b"done\n")]
    assert SLOW_S - 0.5 <= stopped_in < 4.0
    assert running.plane.exitcode == 0
    assert running.plane.problem() is None
    assert pid is not None and not _alive(pid)
    log = running.log_text()
    assert "Traceback" not in log
    assert not [line for line in log.splitlines() if " ERROR " in line or " WARNING " in line], log


def test_stop_kills_a_child_whose_requests_outlast_the_timeout(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane(app_factory=TEST_APP)
    threading.Thread(target=lambda: running.get("/test/slow"), daemon=True).start()
    time.sleep(0.3)
    started = time.monotonic()
    running.plane.stop(timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    assert running.plane.pid is None


def test_the_child_ignores_ctrl_c_which_belongs_to_the_parent(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane()
    pid = running.plane.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.3)
    assert running.get("/")[0] == 200
    assert running.plane.problem() is None


def test_a_dead_child_is_a_problem_and_start_brings_it_back_on_the_same_socket(
    web_plane: Callable[..., Running],
) -> None:
    running = web_plane()
    pid = running.plane.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while running.plane.problem() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.plane.problem() == "the web plane stopped unexpectedly (killed by signal 9)"
    running.plane.start()
    assert running.plane.pid not in {None, pid}
    assert running.get("/")[0] == 200
    assert running.plane.problem() is None


def test_the_child_stops_when_its_parent_dies(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.kill()
    parent.wait(5)
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)


PARENT = """
import socket, time
from homecheck.server.web import WebOptions, WebPlane
if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    plane = WebPlane(sock, WebOptions())
    plane.start()
    print(plane.pid, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
