"""The run report: one self-contained HTML file (no script, no network).

Charts are inline SVG drawn here: the refinement curve (pass rate on hidden
tests after each round) and the final statuses. Below them, every task's
outcome, and each task's trajectory in a ``<details>`` element that expands on
a click: each attempt's code, the diff from the attempt it refined, the
feedback the model saw next, and both verdicts.
"""

from __future__ import annotations

import difflib
import html
from typing import Any

from ..records import Brief, Trajectory
from .figures import pick_line, sampling_line

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2125;padding:0 1em}
h1{font-size:1.6em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.figs{display:flex;gap:2em;flex-wrap:wrap}.kv td{padding:2px 12px 2px 0}
table.tasks{border-collapse:collapse;width:100%}table.tasks td,table.tasks th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left}
.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
details{border:1px solid #ddd;border-radius:6px;margin:.5em 0;padding:.3em .8em}summary{cursor:pointer;font-weight:600}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:12.5px;white-space:pre-wrap}
.add{background:#e6ffec;display:block}.del{background:#ffebe9;display:block}.hunk{color:#6e7781;display:block}
.attempt{border-left:3px solid #ccc;padding-left:.8em;margin:1em 0}.attempt.ok{border-color:#137333}
.muted{color:#6e7781}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def curve_svg(values: list[float], width: int = 420, height: int = 220) -> str:
    """Line chart of pass rate per round (0..1)."""
    pad = 40
    if not values:
        return "<svg class='chart' id='curve' width='10' height='10'></svg>"
    w, h = width - 2 * pad, height - 2 * pad
    step = w / max(1, len(values) - 1)
    pts = [(pad + i * step, pad + h - v * h) for i, v in enumerate(values)]
    grid = "".join(f"<line x1='{pad}' x2='{pad + w}' y1='{pad + h - g * h}' y2='{pad + h - g * h}' stroke='#eee'/>"
                   f"<text x='{pad - 6}' y='{pad + h - g * h + 4}' font-size='11' text-anchor='end'>{g:.0%}</text>"
                   for g in (0, 0.25, 0.5, 0.75, 1.0))
    labels = "".join(f"<text x='{x}' y='{pad + h + 16}' font-size='11' text-anchor='middle'>round {i + 1}</text>"
                     for i, (x, _) in enumerate(pts))
    dots = "".join(f"<circle class='point' cx='{x:.1f}' cy='{y:.1f}' r='4' fill='#1a73e8'><title>round {i + 1}: "
                   f"{v:.1%}</title></circle><text x='{x:.1f}' y='{y - 9:.1f}' font-size='11' text-anchor='middle'>"
                   f"{v:.1%}</text>" for i, ((x, y), v) in enumerate(zip(pts, values)))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    return (f"<svg class='chart' id='curve' width='{width}' height='{height}' role='img' "
            f"aria-label='pass rate after each round'>{grid}<polyline fill='none' stroke='#1a73e8' stroke-width='2' "
            f"points='{line}'/>{dots}{labels}</svg>")


def bars_svg(counts: dict[str, int], width: int = 420, height: int = 220) -> str:
    """Horizontal bars: how many tasks ended with each status."""
    if not counts:
        return "<svg class='chart' id='statuses' width='10' height='10'></svg>"
    top = max(counts.values())
    row = min(30.0, (height - 20) / max(1, len(counts)))
    height = int(20 + row * len(counts))
    bars = ""
    for i, (name, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1])):
        y = 10 + i * row
        length = (width - 190) * n / top
        color = "#137333" if name == "passed" else "#b3261e"
        bars += (f"<text x='100' y='{y + row / 2 + 4:.1f}' font-size='12' text-anchor='end'>{_e(name)}</text>"
                 f"<rect class='bar' x='108' y='{y + 3:.1f}' width='{length:.1f}' height='{row - 6:.1f}' fill='{color}'/>"
                 f"<text x='{112 + length:.1f}' y='{y + row / 2 + 4:.1f}' font-size='12'>{n}</text>")
    return f"<svg class='chart' id='statuses' width='{width}' height='{height}' role='img' aria-label='final statuses'>{bars}</svg>"


def _diff(old: str, new: str) -> str:
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2):
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "hunk" if line.startswith("@@") else ""
        out.append(f"<span class='{cls}'>{_e(line)}</span>" if cls else _e(line) + "\n")
    return "".join(out) or "(no change)"


def _verdict(v: Brief) -> str:
    counts = f" ({v.tests_passed}/{v.tests_total} tests)" if v.tests_total else ""
    cls = "pass" if v.passed else "fail"
    return f"<span class='{cls}'>{_e(v.status.value)}</span>{_e(counts)}"


def _selection(t: Trajectory) -> str:
    """A best-of-n task's picks, one per rule, and what MBR-exec ran the candidates on."""
    if t.selection is None:
        return ""
    right = t.picks_correct
    picks = ", ".join(f"{_e(rule)}: attempt {i + 1} ({'passes' if right.get(rule) else 'fails'} the hidden tests)"
                      for rule, i in t.selection.picks.items())
    inputs = "".join(f"<li><code>{_e(i[:300])}</code></li>" for i in t.selection.probe_inputs[:20])
    return (f"<p>Picks: {picks}; the answer is {_e(t.selection.rule)}'s.</p>"
            + (f"<details><summary>inputs every candidate ran on ({len(t.selection.probe_inputs)})</summary>"
               f"<ul>{inputs}</ul></details>" if inputs else ""))


def _trajectory(t: Trajectory) -> str:
    parts = [_selection(t)]
    by_id = {a.id: a for a in t.attempts}
    for a in t.attempts:
        parent = by_id.get(a.parent) if a.parent is not None else None
        ok = " ok" if a.hidden.passed else ""
        diff = (f"<p>Changes from attempt {parent.id + 1}:</p><pre class='diff'>{_diff(parent.program, a.program)}</pre>"
                if parent else "")
        fb = f"<p>Feedback shown next:</p><pre class='feedback'>{_e(a.feedback)}</pre>" if a.feedback else ""
        parts.append(
            f"<div class='attempt{ok}'><p><b>Attempt {a.id + 1}</b> (round {a.round + 1}) "
            f"visible tests: {_verdict(a.visible)} &middot; hidden tests: {_verdict(a.hidden)} "
            f"<span class='muted'>&middot; {a.completion_tokens} tokens, {a.sandbox_seconds} s in the sandbox"
            f"</span></p>{diff}<details class='code'><summary>code</summary><pre>{_e(a.program or '(no code)')}"
            f"</pre></details>{fb}</div>")
    return "".join(parts)


def _outcome(t: Trajectory) -> str:
    return "passed" if t.passed else "failed"


def render_report(summary: dict[str, Any], trajectories: list[Trajectory]) -> str:
    """The whole report as one HTML document."""
    rows = []
    for i, t in enumerate(trajectories):
        chosen = t.pick()
        rows.append(
            f"<tr><td><a href='#t{i}'>{_e(t.task_id)}</a></td><td class='{'pass' if t.passed else 'fail'}'>"
            f"{_outcome(t)}</td><td>{len(t.attempts)}</td>"
            f"<td>{_e(chosen.hidden.status.value if chosen is not None else '-')}</td>"
            f"<td>{t.completion_tokens}</td></tr>")
    details = "".join(
        f"<details class='trajectory' id='t{i}'><summary>{_e(t.task_id)}: "
        f"{_outcome(t)} after {len(t.attempts)} attempt(s)</summary>{_trajectory(t)}</details>"
        for i, t in enumerate(trajectories))
    facts = {"strategy": summary.get("strategy"), "model": summary.get("model"), "tasks": summary.get("tasks"),
             "pass@1 (final)": summary.get("pass@1"), "attempts": summary.get("attempts"),
             "tokens (prompt / completion)": f"{summary.get('prompt_tokens')} / {summary.get('completion_tokens')}",
             "sandbox seconds": summary.get("sandbox_seconds"), "wall seconds": summary.get("seconds")}
    for label, line in (("samples", sampling_line(summary)), ("best-of-n picks right", pick_line(summary))):
        if line is not None:
            facts[label] = line
    kv = "".join(f"<tr><td>{_e(k)}</td><td><b>{_e(v)}</b></td></tr>" for k, v in facts.items())
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>codeloop run: {_e(summary.get('strategy'))}"
            f"</title><style>{CSS}</style></head><body><h1>codeloop run</h1><table class='kv'>{kv}</table>"
            f"<div class='figs'><figure><figcaption>Pass rate on hidden tests after each round</figcaption>"
            f"{curve_svg(summary.get('curve') or [])}</figure><figure><figcaption>Final status of each task</figcaption>"
            f"{bars_svg(summary.get('final_statuses') or {})}</figure></div>"
            f"<h2>Tasks</h2><table class='tasks'><tr><th>task</th><th>outcome</th><th>attempts</th><th>final status</th>"
            f"<th>tokens</th></tr>{''.join(rows)}</table><h2>Trajectories</h2>{details}</body></html>")
