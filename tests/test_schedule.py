"""The service's scheduler on its own, with futures the test settles by hand:
round robin between clients, slow samples stop counting against the CPUs,
admission by worst-case time, 504 on an expected wait past the bound."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest

from codeloop.service.schedule import FairScheduler, Refused, SchedulerLimits


class Runs:
    """Starts that record their order and hand back a future the test settles."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.futures: dict[str, Future] = {}

    def start(self, name: str):
        def go() -> Future:
            self.started.append(name)
            self.futures[name] = Future()
            return self.futures[name]
        return go

    def finish(self, name: str, value: object = None) -> None:
        self.futures[name].set_result(value if value is not None else name)


def _submit(s: FairScheduler, runs: Runs, client: str, names: list[str], seconds: float = 1.0) -> list[Future]:
    ticket = s.admit(client, [seconds] * len(names))
    return [s.submit(ticket, runs.start(n), seconds) for n in names]


def test_clients_take_turns():
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=1, long_after=60)), Runs()
    a = _submit(s, runs, "a", ["a1", "a2", "a3"])
    b = _submit(s, runs, "b", ["b1"])
    assert runs.started == ["a1"]
    runs.finish("a1")
    runs.finish("a2")
    assert runs.started == ["a1", "a2", "b1"]  # b waited for one of a's samples, not all of them
    runs.finish("b1")
    runs.finish("a3")
    assert [f.result() for f in a + b] == ["a1", "a2", "a3", "b1"]


def test_a_slow_sample_stops_counting_against_the_cpus_and_no_client_takes_every_worker():
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=4, long_after=0.2)), Runs()
    _submit(s, runs, "a", ["loop1", "loop2", "loop3", "loop4"])
    assert runs.started == ["loop1"]
    time.sleep(0.3)
    assert runs.started == ["loop1", "loop2"]  # loop1 turned long: another may start
    time.sleep(0.4)
    assert runs.started == ["loop1", "loop2", "loop3"]  # the timer armed itself again after firing
    # loop4 waits: "a" holds 3 of the 4 workers, its share; the last is kept for others
    short = _submit(s, runs, "b", ["short"])
    assert runs.started[-1] == "short"
    runs.finish("short")
    assert short[0].result() == "short"
    runs.finish("loop1")
    assert runs.started[-1] == "loop4"


def test_admission_by_worst_case_seconds():
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=1, client_seconds=10, max_seconds=15)), Runs()
    with pytest.raises(Refused) as too_big:
        s.admit("a", [11.0])
    assert too_big.value.status == 413
    _submit(s, runs, "a", ["a1"], seconds=8)
    with pytest.raises(Refused) as per_client:
        s.admit("a", [3.0])
    assert per_client.value.status == 429 and per_client.value.retry_after >= 1
    _submit(s, runs, "b", ["b1"], seconds=6)
    with pytest.raises(Refused) as overall:
        s.admit("c", [2.0])
    assert overall.value.status == 429
    runs.finish("a1")  # its seconds are given back
    s.admit("a", [3.0])


def test_an_expected_wait_past_the_bound_is_a_504():
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=1, long_after=60, max_wait=1.0,
                                            max_queued=10_000, client_seconds=1e9, max_seconds=1e9)), Runs()
    _submit(s, runs, "a", [f"a{i}" for i in range(100)], seconds=0.01)  # 99 queued x 0.05 s each: 5 s
    with pytest.raises(Refused) as late:
        s.admit("b", [0.01])
    assert late.value.status == 504 and late.value.retry_after >= 1
    assert s.refused["expected_wait"] == 1


def test_cancel_drops_what_has_not_started_and_gives_its_seconds_back():
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=1, long_after=60, client_seconds=10)), Runs()
    ticket = s.admit("a", [4.0, 4.0])
    first = s.submit(ticket, runs.start("a1"), 4.0)
    second = s.submit(ticket, runs.start("a2"), 4.0)
    assert s.cancel(ticket) == 1 and second.cancelled() and first.cancelled()
    # the started one runs to its end, holding its worker and its client's seconds: leaving escapes nothing
    assert s.snapshot()["running"] == 1 and s.snapshot()["outstanding_seconds"] == 4.0
    with pytest.raises(Refused):
        s.admit("a", [9.0])
    runs.finish("a1")
    assert runs.started == ["a1"] and s.snapshot()["outstanding_seconds"] == 0 and s.snapshot()["running"] == 0
    s.admit("a", [9.0])


def test_samples_that_end_at_once_do_not_recurse():
    # no-code samples finish the moment they start; each finish pumps again. Thousands in a row must
    # neither overflow the stack nor lose one.
    s, runs = FairScheduler(SchedulerLimits(cpu_slots=1, max_slots=1, long_after=60, max_queued=10_000,
                                            client_seconds=1e9, max_seconds=1e9)), Runs()
    blocker = _submit(s, runs, "a", ["slow"])
    ticket = s.admit("a", [0.01] * 5000)

    def done_at_once() -> Future:
        f: Future = Future()
        f.set_result("no_code")
        return f

    outs = [s.submit(ticket, done_at_once, 0.01) for _ in range(5000)]
    runs.finish("slow")
    assert blocker[0].result() == "slow"
    assert [f.result(timeout=10) for f in outs] == ["no_code"] * 5000
