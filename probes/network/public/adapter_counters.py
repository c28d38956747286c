"""An adapter's byte counters sampled at a fixed interval: the throughput chart of a test.

The rate between two samples is (bytes now - bytes before) * 8 / elapsed, in Mbit/s; it counts
every byte the adapter moved (headers included, and any other traffic of this computer), which
is what a chart of the line's use should show. The figures in the report come from the test
itself, not from these counters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import psutil

from homecheck.model import Phase, Series, SeriesName


class AdapterCounters:
    """The adapter's byte counters every `interval` s: the throughput chart (Mbit/s over time)."""

    def __init__(self, interface: str | None, interval: float) -> None:
        self.interface = interface
        self.interval = interval
        self.points: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="counters", daemon=True)

    def start(self) -> None:
        if self.interface is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            stats = psutil.net_io_counters(pernic=True).get(self.interface or "")
            if stats is not None:
                self.points.append((time.monotonic(), stats.bytes_recv, stats.bytes_sent))
            self._stop.wait(self.interval)

    def series(self, phases: Sequence[tuple[str, float, float]], t0: float) -> list[Series]:
        out = []
        spans = {name: (begin, end) for name, begin, end in phases}
        for name, phase, column in (
            (SeriesName.DOWNLOAD_MBPS, Phase.DOWNLOAD, 1),
            (SeriesName.UPLOAD_MBPS, Phase.UPLOAD, 2),
        ):
            span = spans.get(phase)
            if span is None:
                continue
            points = []
            for a, b in zip(self.points, self.points[1:], strict=False):
                x = b[0] - t0
                if span[0] <= x <= span[1] and b[0] > a[0]:
                    rate = (b[column] - a[column]) * 8 / (b[0] - a[0]) / 1e6
                    points.append((round(x, 2), round(rate, 3)))
            out.append(Series(name, "Mbit/s", tuple(points)))
        return out
