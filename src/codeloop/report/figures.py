"""A run summary's figures as short labelled lines, for the terminal table and the HTML report alike."""

from __future__ import annotations

from typing import Any


def sampling_line(summary: dict[str, Any]) -> str | None:
    """How the samples were obtained, and the warning when they are copies (None: one sample per task)."""
    s = summary.get("sampling")
    if not s:
        return None
    text = f"{s['how']}; {s['distinct_programs_per_task']} distinct programs per task"
    return f"{text}. {s['note']}" if s.get("copies") else text


def pick_line(summary: dict[str, Any]) -> str | None:
    """Each selection rule's accuracy beside the oracle and a random pick (None: not a best-of-n run)."""
    if "pick" not in summary:
        return None
    p = summary["pick"]
    if p is None:
        return "not reported: the samples are copies (see sampling)"
    by_rule = p["by_rule"]
    rules = "  ".join(f"{rule}{' (answer)' if rule == p.get('answer') else ''} {value}"
                      for rule, value in by_rule.items())
    left_out = f"  ({', '.join(p['rules_left_out'])}: not every task has a pick)" if p.get("rules_left_out") else ""
    return f"{rules}  |  oracle {p['oracle']}  random {p['random']}{left_out}"
