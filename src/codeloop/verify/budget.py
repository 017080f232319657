"""Time limits from a reference's timing: one rule, used by the judge and the orchestrator.

Pure functions over plain data (the judge's process imports nothing heavy):

* whole test: ``min(max, max(floor, factor x reference seconds) + calls x allowance)``
  seconds of wall time;
* each call whose arguments match the reference's call at the same position:
  ``max(call_floor, factor x that call's seconds) + allowance`` seconds of the
  candidate's CPU time.

Reference seconds are CPU time of the judge's thread running the reference,
so a busy machine (or a candidate spinning on the same CPU) does not inflate them.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from .protocol import BudgetsWire, PolicyWire


def derive(policy: PolicyWire, seconds: float, calls: int, call_times: list[list[Any]]) -> BudgetsWire:
    """The limits for a task whose reference took ``seconds`` over ``calls``
    calls, ``call_times`` being ``[digest, seconds]`` per call in order."""
    wall = min(policy["max"], max(policy["floor"], policy["factor"] * seconds) + calls * policy["allowance"])
    budgets = [[key, round(max(policy["call_floor"], policy["factor"] * t) + policy["allowance"], 4)]
               for key, t in call_times]
    return {"wall": round(wall, 3), "calls": budgets}


def fallback(policy: PolicyWire) -> BudgetsWire:
    """The limits for a task whose reference is missing or failed."""
    return {"wall": policy["default"], "calls": []}


def provisional(policy: PolicyWire) -> BudgetsWire:
    """Bounds that every calibrated limit is at least: the floors. A program
    that stays inside them needs no calibration; one that does not makes the
    judge time the reference before deciding."""
    return {"wall": policy["floor"], "calls": []}


def call_key(enc_args: Any, enc_kwargs: Any) -> str:
    """A short digest that identifies a call's encoded arguments (CRC-32 and
    length: zlib is light to load, and a rare collision only picks another
    call's budget)."""
    blob = json.dumps([enc_args, enc_kwargs], separators=(",", ":")).encode()
    return f"{zlib.crc32(blob):08x}{len(blob):x}"
