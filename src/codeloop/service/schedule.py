"""Who runs next on the service's sandbox workers: fair between clients,
admitted by time, and never silent.

Admission (at a request's arrival) counts each sample's *worst case*: the
seconds it may hold a worker (its limits), not just how many samples there
are. A request is refused with 429 and a Retry-After when taking it would
pass the bound on samples waiting, or on worst-case seconds in all or for its
client; with 413 when it could never fit; with 504 and a Retry-After when its
expected wait (samples ahead x the mean time of the short runs seen, over the
CPUs) is past ``max_wait``. That last is 504 and not 429 because verl's
SandboxFusion client retries 504 and scores any other error as a failure.

Dispatch (as workers free up) takes one sample from each client in turn
(round robin), so one client's many samples cannot starve another's one.
Two numbers bound what runs at once:

* ``cpu_slots``: samples in their first ``long_after`` seconds, the ones
  that compete for the CPUs (about the CPUs given to the service);
* ``max_slots``: all samples running (the sandbox workers).

A sample still running after ``long_after`` seconds has shown it is slow
(an endless loop, a sleep, a long test) and stops counting against the
CPUs, so the next sample starts on another worker instead of waiting behind
it: short requests are not stuck behind long ones while workers remain. No
client may hold more than ``client_slots`` workers (by default a quarter of
them are kept for others), so one client's endless loops never take every
worker. A request whose first sample has not started within ``max_wait``
seconds is answered 504 (which verl's SandboxFusion client retries) and its
samples not yet started are dropped; so a client hears within a known time,
never nothing. A sample that has started runs to its end even when its
client has gone: its worker, and its client's budget, stay taken until then
(so leaving does not escape the bounds).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Refused(Exception):
    """A request that cannot be taken now (``status`` 429 or 504, with
    ``retry_after`` seconds) or ever (413)."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry_after = status, reason, retry_after


@dataclass(frozen=True)
class SchedulerLimits:
    """The bounds a :class:`FairScheduler` keeps (see the module's docstring).

    ``max_queued``: samples waiting at most, beyond those running.
    ``max_seconds``: worst-case seconds of all samples admitted (running or
    waiting). ``client_seconds``: the same, per client. ``client_slots``:
    workers one client may hold at once (None: three quarters of
    ``max_slots``, at least 1).
    """

    cpu_slots: int
    max_slots: int
    long_after: float = 0.05
    max_wait: float = 10.0
    max_queued: int = 1024
    max_seconds: float = 20_000.0
    client_seconds: float = 10_000.0
    client_slots: int | None = None

    @property
    def per_client(self) -> int:
        """The workers one client may hold at once."""
        if self.client_slots is not None:
            return self.client_slots
        return max(1, self.max_slots - max(1, self.max_slots // 4)) if self.max_slots > 1 else 1

    def __post_init__(self) -> None:
        if not 1 <= self.cpu_slots <= self.max_slots:
            raise ValueError("need 1 <= cpu_slots <= max_slots")
        if self.long_after <= 0 or self.max_wait <= 0:
            raise ValueError("long_after and max_wait must be positive")


@dataclass
class Ticket:
    """One request's place: its client, worst case, and when its first sample began."""

    client: str
    seconds: float
    admitted: float = field(default_factory=time.monotonic)
    first_start: float | None = None
    items: list["_Item"] = field(default_factory=list)


@dataclass(eq=False)
class _Item(Generic[T]):
    ticket: Ticket
    seconds: float
    start: Callable[[], "Future[T]"]
    out: "Future[T]" = field(default_factory=Future)
    queued: float = field(default_factory=time.monotonic)
    began: float = 0.0


class FairScheduler:
    """Admission and fair dispatch of samples to a pool (thread-safe).

    :meth:`admit` a request, :meth:`submit` each of its samples (a callable
    that starts it and returns its future), :meth:`cancel` what is left of a
    request whose client went away or waited too long.
    """

    def __init__(self, limits: SchedulerLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[_Item]] = {}
        self._turns: collections.deque[str] = collections.deque()
        self._running: dict[_Item, float] = {}
        self._held: collections.Counter[str] = collections.Counter()  # running samples per client
        self._pumping = False  # one thread pumps at a time; the others leave it a note
        self._again = False
        # worst-case seconds admitted and not yet over, per client
        self._outstanding: collections.defaultdict[str, float] = collections.defaultdict(float)
        self._queued = 0
        # seconds per sample, a moving average of the runs that ended within long_after: the ones that
        # hold a CPU slot (a loop's 10 s would make every estimate a refusal, yet it holds no CPU slot)
        self._mean_short = 0.05
        self._timer: threading.Timer | None = None
        self.waits: collections.deque[float] = collections.deque(maxlen=5000)
        self.refused: collections.Counter[str] = collections.Counter()

    # -- admission -----------------------------------------------------------
    def admit(self, client: str, seconds: list[float]) -> Ticket:
        """Take a request of samples with these worst cases, or raise :class:`Refused`."""
        total = sum(seconds)
        lim = self.limits
        with self._lock:
            if total > lim.client_seconds or total > lim.max_seconds:
                self.refused["too_large"] += 1
                raise Refused(413, f"this request's worst case ({total:.0f} s of sandbox time) is over the "
                                   f"server's bound ({min(lim.client_seconds, lim.max_seconds):.0f} s): split it")
            expected = self._expected_wait()
            reason = None
            if self._queued + len(seconds) > lim.max_queued + max(0, lim.max_slots - len(self._running)):
                reason = "samples_waiting"
            elif self._outstanding[client] + total > lim.client_seconds:
                reason = "client_seconds"
            elif sum(self._outstanding.values()) + total > lim.max_seconds:
                reason = "total_seconds"
            elif expected > lim.max_wait:
                self.refused["expected_wait"] += 1
                raise Refused(504, f"this request would wait about {expected:.0f} s to start, over the bound "
                                   f"({lim.max_wait:g} s); retry later", retry_after=min(60.0, expected))
            if reason is not None:
                self.refused[reason] += 1
                retry = max(1.0, min(60.0, expected))
                raise Refused(429, f"the sandbox pool is saturated ({reason.replace('_', ' ')}); retry later",
                              retry_after=retry)
            self._outstanding[client] += total
            return Ticket(client, total)

    def _expected_wait(self) -> float:
        # called with the lock held
        busy = len(self._running) >= self.limits.max_slots or self._queued > 0
        return self._queued * self._mean_short / self.limits.cpu_slots if busy else 0.0

    # -- dispatch ------------------------------------------------------------
    def submit(self, ticket: Ticket, start: Callable[[], "Future[T]"], seconds: float) -> "Future[T]":
        """Queue one admitted sample; ``start`` is called (on some thread) when
        its turn comes. The future is what ``start``'s future gives."""
        item: _Item[T] = _Item(ticket, seconds, start)
        with self._lock:
            ticket.items.append(item)
            queue = self._queues.get(ticket.client)
            if queue is None:
                queue = self._queues[ticket.client] = collections.deque()
                self._turns.append(ticket.client)
            queue.append(item)
            self._queued += 1
        self._pump()
        return item.out

    def cancel(self, ticket: Ticket) -> int:
        """Drop the request's samples that have not started; how many there were.
        Those that have started run to their end, holding their worker and
        their client's budget until then (their results are dropped)."""
        dropped, started = 0, []
        with self._lock:
            queue = self._queues.get(ticket.client)
            for item in ticket.items:
                if item.began:
                    started.append(item)
                elif queue is not None and item in queue and item.out.cancel():
                    queue.remove(item)
                    self._queued -= 1
                    self._settle(item.ticket.client, item.seconds)
                    dropped += 1
            if queue is not None and not queue:
                del self._queues[ticket.client]
                self._turns.remove(ticket.client)
        for item in started:
            item.out.cancel()
        return dropped

    def _pump(self) -> None:
        # Starting a sample can finish it at once (no code, a failed preparation), and finishing one
        # pumps again: one thread pumps at a time, in a loop, so that never recurses.
        with self._lock:
            if self._pumping:
                self._again = True
                return
            self._pumping = True
        try:
            while True:
                with self._lock:
                    to_start = self._pick()
                    if not to_start and not self._again:
                        self._pumping = False
                        return
                    self._again = False
                for item in to_start:
                    self._launch(item)
        except BaseException:
            with self._lock:
                self._pumping = False
            raise

    def _pick(self) -> list[_Item]:
        # called with the lock held: the samples to start now, marked running
        to_start: list[_Item] = []
        now = time.monotonic()
        while self._queued and len(self._running) < self.limits.max_slots:
            fresh = [began for began in self._running.values() if now - began < self.limits.long_after]
            if len(fresh) >= self.limits.cpu_slots:
                self._wake_at(min(fresh) + self.limits.long_after - now)
                break
            item = self._next()
            if item is None:
                break  # every client with samples waiting holds its share: a sample's end pumps again
            if item.out.cancelled():
                self._settle(item.ticket.client, item.seconds)
                continue
            item.began = now
            self._running[item] = now
            self._held[item.ticket.client] += 1
            self.waits.append(now - item.queued)
            if item.ticket.first_start is None:
                item.ticket.first_start = now
            to_start.append(item)
        return to_start

    def _next(self) -> _Item | None:
        # called with the lock held, with something queued: the oldest sample of the next client in
        # turn that holds fewer workers than its share
        for _ in range(len(self._turns)):
            client = self._turns.popleft()
            if self._held[client] >= self.limits.per_client:
                self._turns.append(client)
                continue
            queue = self._queues[client]
            item = queue.popleft()
            self._queued -= 1
            if queue:
                self._turns.append(client)
            else:
                del self._queues[client]
            return item
        return None

    def _launch(self, item: _Item) -> None:
        try:
            inner = item.start()
        except BaseException as exc:  # noqa: BLE001 - the waiter must hear of it
            inner = Future()
            inner.set_exception(exc)
        inner.add_done_callback(lambda f: self._done(item, f))

    def _done(self, item: _Item, inner: Future) -> None:
        with self._lock:
            began = self._running.pop(item, None)
            if began is not None:
                self._held[item.ticket.client] -= 1
                if self._held[item.ticket.client] <= 0:
                    del self._held[item.ticket.client]
            took = time.monotonic() - began if began is not None else None
            if took is not None and took < self.limits.long_after:
                self._mean_short = 0.9 * self._mean_short + 0.1 * took
            self._settle(item.ticket.client, item.seconds)
        if not item.out.done():
            if inner.cancelled():
                item.out.cancel()
            elif inner.exception() is not None:
                item.out.set_exception(inner.exception())
            else:
                item.out.set_result(inner.result())
        self._pump()

    def _settle(self, client: str, seconds: float) -> None:
        # called with the lock held: a sample is over (ran or was dropped)
        self._outstanding[client] -= seconds
        if self._outstanding[client] <= 1e-9:
            del self._outstanding[client]

    def _wake_at(self, delay: float) -> None:
        # called with the lock held: pump again when the oldest fresh sample turns long
        if self._timer is not None and self._timer.is_alive():
            return
        self._timer = threading.Timer(max(delay, 0.001), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None  # this thread is still alive: without this, _wake_at would never arm again
        self._pump()

    # -- what /metrics shows ---------------------------------------------------
    def snapshot(self) -> dict[str, float]:
        """Running and waiting samples, outstanding worst-case seconds, queue-wait quantiles."""
        with self._lock:
            waits = sorted(self.waits)
            snap = {"running": float(len(self._running)), "queued": float(self._queued),
                    "outstanding_seconds": float(sum(self._outstanding.values())),
                    "mean_short_seconds": self._mean_short}
        for q in (0.5, 0.99):
            snap[f"wait_p{int(q * 100)}"] = waits[min(len(waits) - 1, int(q * len(waits)))] if waits else 0.0
        return snap

    def retry_after(self, seconds: float | None) -> str:
        """A Retry-After header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds or 1.0)))
