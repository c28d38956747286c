"""A real microphone path with no sound card: PulseAudio in user mode with a null sink.

Whatever is played into the sink `vsink` comes out of its monitor source `vsink.monitor`, which is
made the default microphone; PortAudio reaches it through ALSA's pulse plugin, exactly as on a
desktop Linux machine. Signals are generated in memory and piped into `paplay` (nothing is written
to disk). Used by the tests (tests/probes/audio/) and by bench/audio_accuracy.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

RATE = 48000
SINK = "vsink"


class VirtualMic:
    """A private PulseAudio daemon, child of this process, with its own HOME and runtime dir."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hc-audio-vmic-"))
        self.socket = self.root / "native"
        self.env = {
            **os.environ,
            "HOME": str(self.root / "home"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "PULSE_SERVER": f"unix:{self.socket}",
            # Small client buffers: streams start in ~0.1 s instead of ~2 s (libpulse setting).
            "PULSE_LATENCY_MSEC": "30",
        }
        self._daemon: subprocess.Popen[bytes] | None = None
        self._listener: subprocess.Popen[bytes] | None = None
        self.log = self.root / "pulseaudio.log"

    def start(self, timeout_s: float = 10.0) -> None:
        for sub in ("home", "run"):
            (self.root / sub).mkdir(mode=0o700)
        with self.log.open("wb") as log:
            self._daemon = subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--disallow-exit",
                    "--use-pid-file=no",
                    "--log-target=stderr",
                    # The socket is in our private directory, so anonymous access is safe.
                    "-L",
                    f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                    "-L",
                    f"module-null-sink sink_name={SINK} rate={RATE} channels=1",
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self._pactl_ok("info"):
            if self._daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        if not self._pactl_ok("set-default-source", f"{SINK}.monitor"):
            raise RuntimeError("cannot make vsink.monitor the default source")
        # A real microphone runs all the time; a monitor source only renders while someone
        # listens, and a stream that starts it waits ~2 s for the first block. A listener that
        # throws the sound away (/dev/null) keeps it running, so each probe run starts at once.
        self._listener = subprocess.Popen(
            ["parec", "--raw", "--latency-msec=30", f"--device={SINK}.monitor"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _pactl_ok(self, *args: str) -> bool:
        try:
            done = subprocess.run(
                ["pactl", *args], env=self.env, capture_output=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.kill()
            listener.wait(5)
        daemon, self._daemon = self._daemon, None
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(5)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> VirtualMic:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @contextlib.contextmanager
    def in_this_process(self) -> Iterator[None]:
        """Point this process's PortAudio at the virtual microphone (and restore afterwards).
        PortAudio lists devices when it starts, so it is restarted inside."""
        saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_LATENCY_MSEC")}
        os.environ["PULSE_SERVER"] = self.env["PULSE_SERVER"]
        os.environ["PULSE_LATENCY_MSEC"] = self.env["PULSE_LATENCY_MSEC"]
        try:
            restart_portaudio()
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            restart_portaudio()

    def play(self, samples: np.ndarray, rate: int = RATE) -> Player:
        return Player(self, samples, rate)


def restart_portaudio() -> None:
    if "sounddevice" in sys.modules:
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


class Player:
    """`paplay` fed from memory through a pipe; stops (killed) when the block ends."""

    def __init__(self, mic: VirtualMic, samples: np.ndarray, rate: int) -> None:
        self._data = np.asarray(samples, dtype="<f4").tobytes()
        self._process = subprocess.Popen(
            [
                "paplay",
                "--raw",
                "--format=float32le",
                f"--rate={rate}",
                "--channels=1",
                f"--device={SINK}",
                "--client-name=homecheck-test",
                # Without it paplay queues ~2 s ahead and the sound reaches the monitor late.
                "--latency-msec=30",
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=mic.env,
        )
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            stdin.write(self._data)
            stdin.close()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(5)
        self._feeder.join(5)

    def __enter__(self) -> Player:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def tools_missing() -> list[str]:
    return [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
