"""Runs inside the sandbox, under valgrind, to count a program's work.

Standalone on purpose (the sandbox cannot import codeloop): its text is sent
to the sandbox and run with ``python -c``. It loads the program from
/sandbox/measure.json and calls its entry point once per recorded call,
ignoring results (they were judged already). Everything it does is counted;
codeloop subtracts the count of the same run with a do-nothing function.
"""

import json
from typing import Any


def _rebuild(node: Any) -> Any:
    t = type(node)
    if node is None or t in (bool, int, float, str):
        return node
    if t is list:
        return [_rebuild(x) for x in node]
    tag, v = node["$"], node["v"]
    if tag == "bytes":
        return bytes.fromhex(v)
    if tag == "complex":
        return complex(v[0], v[1])
    items = [_rebuild(x) for x in v]
    if tag == "tuple":
        return tuple(items)
    if tag == "set":
        return set(items)
    if tag == "frozenset":
        return frozenset(items)
    return dict(items)


def main() -> None:
    with open("/sandbox/measure.json") as fh:
        job = json.load(fh)
    namespace: dict[str, Any] = {"__name__": "solution"}
    exec(compile(job["program"], "solution.py", "exec", dont_inherit=True), namespace)
    func = namespace[job["entry_point"]]
    for args, kwargs in job["calls"]:
        try:
            func(*_rebuild(args), **_rebuild(kwargs))
        except BaseException:  # noqa: BLE001 - only the work done counts here
            pass


main()
