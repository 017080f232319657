"""The judge's line to a candidate: requests out, replies in, with deadlines.

Runs in the judge process. The judge writes a request and waits for the
reply under two bounds: a wall-clock deadline, and optionally a budget of CPU
time that the candidate's main thread may spend on this request (read from
``/proc/<pid>/schedstat`` while waiting). CPU time, so that a program waiting
on a process it started is not charged, and a busy machine changes nothing.

Whatever the candidate sends is untrusted: frames are size-capped, and every
way the line can fail is one exception type below, so the judge can turn it
into a verdict.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from . import wire

CPU_POLL = 0.005  # seconds between looks at a running request's CPU time


class ChannelError(Exception):
    """The candidate can answer no more requests."""


class ChannelTimeout(ChannelError):
    """No reply before the wall-clock deadline."""


class ChannelClosed(ChannelError):
    """The candidate's end closed: it exited or was killed."""


class ChannelOverflow(ChannelError):
    """The candidate sent a frame larger than the channel accepts."""


class ChannelGarbage(ChannelError):
    """The candidate sent bytes that are not a frame of JSON."""


class CpuBudgetExceeded(ChannelError):
    """The candidate spent more CPU time on one request than its budget."""

    def __init__(self, used: float, budget: float) -> None:
        super().__init__(f"no answer after {used:.3f} s of CPU time (this call's budget is {budget:.3f} s)")
        self.used, self.budget = used, budget


class CandidateChannel:
    """Requests to one sample's candidate over a pair of pipes.

    ``pid`` is the candidate's pid in the judge's PID namespace. ``max_reply``
    caps one reply's size. Not thread-safe (one judge, one sample).
    """

    def __init__(self, req_fd: int, resp_fd: int, pid: int, max_reply: int = 16 << 20) -> None:
        self.req_fd, self.pid = req_fd, pid
        self.reader = wire.FrameReader(resp_fd, max_reply)
        self._stat_fd: int | None = None

    def send(self, request: Any) -> None:
        """Write one request; ChannelClosed if the candidate is gone."""
        try:
            wire.write_frame(self.req_fd, request)
        except (wire.PeerClosed, OSError) as exc:
            raise ChannelClosed("the program exited or was killed") from exc

    def receive(self, deadline: float, cpu_budget: float | None = None,
                on_slow: Callable[[float], tuple[float, float | None] | None] | None = None) -> Any:
        """The next reply, by the ``deadline`` (``time.monotonic()``) and
        within ``cpu_budget`` seconds of the candidate's CPU time.

        ``on_slow(used)`` is called once, when the candidate has spent more
        than ``cpu_budget`` on this request or the deadline passed (``used``
        is the CPU time spent so far): it returns a new (deadline, budget) to
        keep waiting under, or None to give up. Raises ChannelTimeout,
        CpuBudgetExceeded, ChannelClosed, ChannelOverflow or ChannelGarbage.
        """
        reader = self.reader
        try:
            msg = reader.pending()
            if msg is not None:
                return msg
            base: float | None = None  # CPU time at the first poll: the request began less than CPU_POLL before
            consulted = on_slow is None
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or (cpu_budget is not None and base is not None and self._used(base) > cpu_budget):
                    if not consulted:
                        consulted = True
                        assert on_slow is not None
                        new = on_slow(self._used(base) if base is not None else 0.0)
                        if new is not None:
                            deadline, cpu_budget = new
                            continue
                    if left <= 0:
                        raise ChannelTimeout("no reply before the deadline")
                    raise CpuBudgetExceeded(self._used(base), cpu_budget)  # type: ignore[arg-type]
                poll = left if cpu_budget is None else min(left, CPU_POLL)
                if reader.wait(poll):
                    reader.fill()
                    msg = reader.pending()
                    if msg is not None:
                        return msg
                    continue
                if cpu_budget is not None and base is None:
                    base = self.cpu_seconds()
                    if base is None:
                        cpu_budget = None  # cannot be read: the wall deadline still holds
        except wire.PeerClosed as exc:
            raise ChannelClosed("the program exited or was killed") from exc
        except wire.FrameTooLarge as exc:
            raise ChannelOverflow(str(exc)) from exc
        except wire.WireError as exc:
            raise ChannelGarbage(str(exc)) from exc

    def _used(self, base: float) -> float:
        now = self.cpu_seconds()
        return now - base if now is not None else 0.0

    def request(self, message: Any, deadline: float, cpu_budget: float | None = None,
                on_slow: Callable[[float], tuple[float, float | None] | None] | None = None) -> Any:
        """:meth:`send` then :meth:`receive`."""
        self.send(message)
        return self.receive(deadline, cpu_budget, on_slow)

    def cpu_seconds(self) -> float | None:
        """CPU time of the candidate's main thread so far (None if unknown)."""
        try:
            if self._stat_fd is None:
                self._stat_fd = os.open(f"/proc/{self.pid}/schedstat", os.O_RDONLY)
            return int(os.pread(self._stat_fd, 128, 0).split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self._stat_fd is not None:
            os.close(self._stat_fd)
            self._stat_fd = None
