"""Resource limits of one sample's candidate, as the orchestrator states them."""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import LimitsWire


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sample's candidate program.

    ``time_limit`` is the wall-clock budget for the tests after the program
    has loaded; ``load_limit`` the budget for loading it (module-level code).
    Memory is an address-space limit per process; ``processes`` caps the
    candidate's processes and threads; ``output_bytes`` caps stdout plus
    stderr (the program is killed past it, status ``output_limit``). A limit
    the worker cannot apply (above its own hard limit) makes the sample fail
    as an evaluator error; it is never silently dropped.
    """

    time_limit: float = 3.0
    load_limit: float = 2.0
    memory_mb: int = 1024
    processes: int = 64
    file_mb: int = 64
    open_files: int = 128
    output_bytes: int = 1 << 20
    tmpfs_mb: int = 64

    @property
    def cpu_seconds(self) -> float:
        """The CPU-time rlimit: a backstop above the judge's own time limits."""
        return self.time_limit + self.load_limit + 1.0

    def to_wire(self) -> LimitsWire:
        return {"memory_mb": self.memory_mb, "processes": self.processes, "file_mb": self.file_mb,
                "open_files": self.open_files, "output_bytes": self.output_bytes, "tmpfs_mb": self.tmpfs_mb,
                "cpu_seconds": self.cpu_seconds}
