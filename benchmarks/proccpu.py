"""Where the machine's CPU time went while a benchmark phase ran: a server's
process tree, the load generator, and everything else, from /proc.

Used by serve_vs_sandboxfusion.py; not a benchmark itself.

A sampler thread reads /proc/stat and every /proc/<pid>/stat every
``interval`` seconds. Each process's time is user + system of all its
threads plus the children it has reaped (cutime + cstime), so a program that
lived and died between two samples is still counted, in its parent. When a
process seen earlier is gone, its reaper's cutime grew by its whole life, so
the part already counted while it was seen is taken back, as far as the
parent's cutime did grow: a process that nobody wait()ed for (autoreaped:
its parent ignores SIGCHLD, as the init of a PID namespace does while the
kernel tears the namespace down) adds to no cutime, and keeps what was
counted of it while it was seen; its last moments, after the last sample,
are in no process's counters at all. Those are reported as "autoreaped".
Processes are grouped by where they stand when last seen: descendants of a
named root (a server; the sandbox's PID namespaces do not hide their
processes from the host's /proc, so a namespaced worker is still a
descendant), this process, kernel threads (children of kthreadd), and the
rest by their top command. What is left of /proc/stat's busy time after all
of that is reported as unattributed (the last moments of autoreaped
processes, processes that started and ended between samples under a reaper
not sampled, and rounding: the kernel counts in ticks).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
KTHREADD = 2
# processes that only start others: an outside process is named after the command below them
LAUNCHERS = frozenset({"bash", "sh", "dash", "zsh", "binary_backend", "timeout", "env", "sudo", "nohup", "setsid",
                       "memfd:sealed-91"})


@dataclass
class Proc:
    pid: int
    ppid: int
    start: int
    comm: str
    own: int  # utime + stime
    reaped: int  # cutime + cstime

    @property
    def ticks(self) -> int:
        return self.own + self.reaped


def read_procs() -> dict[tuple[int, int], Proc]:
    out: dict[tuple[int, int], Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        head, _, rest = raw.rpartition(")")
        comm = head.split("(", 1)[1] if "(" in head else "?"
        f = rest.split()
        # fields after the command: state ppid ... utime(11) stime(12) cutime(13) cstime(14) ... starttime(19)
        p = Proc(int(entry), int(f[1]), int(f[19]), comm, int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
        out[(p.pid, p.start)] = p
    return out


def read_stat() -> dict[str, int]:
    with open("/proc/stat") as fh:
        parts = fh.readline().split()
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    return {n: int(v) for n, v in zip(names, parts[1:9])}


def busy(stat: dict[str, int]) -> int:
    return sum(stat[k] for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def _kernel_name(comm: str) -> str:
    # kworker/1:2-events -> kworker (events); the number is the pool's, the suffix its current queue
    m = re.match(r"kworker/[^-+]*[-+]?(.*)", comm)
    if m:
        return f"kworker ({m.group(1) or 'idle'})"
    return re.sub(r"/\d+$", "", comm)


@dataclass
class Accounting:
    seconds: float
    total_busy: float
    irq_softirq: float
    groups: dict[str, float]
    others: list[dict[str, Any]] = field(default_factory=list)
    kernel: list[dict[str, Any]] = field(default_factory=list)
    autoreaped: dict[str, float] = field(default_factory=dict)
    autoreaped_detail: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unattributed(self) -> float:
        return self.total_busy - sum(self.groups.values()) - sum(o["cpu_s"] for o in self.others) \
            - sum(k["cpu_s"] for k in self.kernel)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "total_busy_cpu_s": round(self.total_busy, 2),
                "irq_softirq_s": round(self.irq_softirq, 2),
                "groups_cpu_s": {k: round(v, 2) for k, v in self.groups.items()},
                "kernel_threads_cpu_s": self.kernel, "other_processes": self.others,
                "autoreaped_counted_cpu_s": self.autoreaped,
                "autoreaped_largest": sorted(self.autoreaped_detail, key=lambda d: -d["cpu_s"])[:10],
                "unattributed_cpu_s": round(self.unattributed, 2)}


class CpuSampler:
    """Samples in a thread from :meth:`start` to :meth:`stop`; ``roots`` names process trees to total."""

    def __init__(self, roots: dict[str, int], interval: float = 0.1) -> None:
        self.roots, self.interval = roots, interval
        self.me = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.counted: dict[tuple[int, int], int] = {}  # what has been counted of each process so far
        self.charged: dict[str, float] = {}
        self.last: dict[tuple[int, int], Proc] = {}
        self.owner: dict[tuple[int, int], str] = {}
        self.autoreaped: dict[str, int] = {}  # label -> ticks counted of processes reaped by no wait()
        self.autoreaped_detail: list[dict[str, Any]] = []

    def start(self) -> CpuSampler:
        self.t0 = time.monotonic()
        self.stat0 = read_stat()
        self.baseline = read_procs()
        self.last = dict(self.baseline)
        self.counted = {k: p.ticks for k, p in self.baseline.items()}  # time before the phase is not its
        self._classify(self.last)
        self._thread.start()
        return self

    def _classify(self, procs: dict[tuple[int, int], Proc]) -> None:
        by_pid = {p.pid: p for p in procs.values()}
        for key, p in procs.items():
            name = None
            q: Proc | None = p
            top = p  # the highest ancestor that is a command of its own, not a shell or pid 1
            for _ in range(64):
                if q is None:
                    break
                if q.pid != 1 and q.comm not in LAUNCHERS:
                    top = q
                for label, root in self.roots.items():
                    if q.pid == root:
                        name = label
                        break
                if name is not None:
                    break
                if q.pid == self.me:
                    name = "load generator (this process)"
                    break
                if q.pid == KTHREADD or q.ppid == KTHREADD:
                    name = "kernel:" + _kernel_name(p.comm)
                    break
                q = by_pid.get(q.ppid)
            self.owner[key] = name or f"{top.comm} (pid {top.pid}) and its descendants"

    def _charge(self, key: tuple[int, int], ticks: int) -> None:
        label = self.owner.get(key, f"pid {key[0]}")
        self.charged[label] = self.charged.get(label, 0.0) + ticks

    def _sample(self) -> None:
        now = read_procs()
        self._classify(now)
        grew: dict[int, int] = {}  # pid -> how much its reaped children's time grew since the last sample
        for key, p in now.items():
            before = self.counted.get(key, 0)
            self._charge(key, p.ticks - before)
            self.counted[key] = p.ticks
            prev = self.last.get(key)
            grew[p.pid] = p.reaped - (prev.reaped if prev is not None else 0)
        # Gone since the last sample: if it was wait()ed for, the nearest ancestor still here has it in its
        # cutime (a parent that went too passed it up when reaped), so what was counted of it is taken back;
        # if nobody waited (autoreaped), it stays counted. Nearest to that ancestor first: a child the
        # ancestor reaped is surely in its cutime, a grandchild only if its own parent waited for it.
        last_by_pid = {p.pid: p for p in self.last.values()}
        here = {p.pid for p in now.values()}
        gone_keys = []
        for key in set(self.last) - set(now):
            ancestor, depth = self.last[key].ppid, 1
            while ancestor not in here and ancestor in last_by_pid and depth < 64:
                ancestor, depth = last_by_pid[ancestor].ppid, depth + 1
            gone_keys.append((depth, key, ancestor))
        for _, key, ancestor in sorted(gone_keys):
            gone = self.counted.pop(key, 0)
            back = min(gone, max(0, grew.get(ancestor, 0)))
            if ancestor in grew:
                grew[ancestor] -= back
            self._charge(key, -back)
            if gone > back:
                label = self.owner.get(key, "?")
                self.autoreaped[label] = self.autoreaped.get(label, 0) + gone - back
                last = self.last[key]
                self.autoreaped_detail.append({"pid": last.pid, "ppid": last.ppid, "comm": last.comm, "owner": label,
                                               "cpu_s": round((gone - back) / TICK, 2)})
        self.last = now

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> Accounting:
        self._stop.set()
        self._thread.join()
        self._sample()
        seconds = time.monotonic() - self.t0
        stat1 = read_stat()
        total = (busy(stat1) - busy(self.stat0)) / TICK
        irq = (stat1["irq"] + stat1["softirq"] - self.stat0["irq"] - self.stat0["softirq"]) / TICK
        groups = {label: self.charged.pop(label, 0) / TICK for label in [*self.roots, "load generator (this process)"]}
        others: list[dict[str, Any]] = []
        kernel_merged: dict[str, float] = {}  # kernel threads by kind, not by pid
        for label, ticks in sorted(self.charged.items(), key=lambda kv: -kv[1]):
            if abs(ticks) < 1:
                continue
            if label.startswith("kernel:"):
                kernel_merged[label[7:]] = kernel_merged.get(label[7:], 0.0) + ticks / TICK
            else:
                others.append({"process": label, "cpu_s": round(ticks / TICK, 2)})
        kernel = [{"name": n, "cpu_s": round(v, 2)} for n, v in sorted(kernel_merged.items(), key=lambda kv: -kv[1])]
        autoreaped = {label: round(t / TICK, 2) for label, t in sorted(self.autoreaped.items(), key=lambda kv: -kv[1])
                      if t >= 1 and not label.startswith("kernel:")}
        detail = [d for d in self.autoreaped_detail if not d["owner"].startswith("kernel:")]
        return Accounting(seconds, total, irq, groups, others, kernel, autoreaped, detail)
