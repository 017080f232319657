"""The reward files loaded by path, the way verl and OpenRLHF load them.

Neither trainer imports ``codeloop``: verl runs
``spec_from_file_location("custom_module", path)`` on
``custom_reward_function.path`` and OpenRLHF does the same with the name
"reward_func" on a ``--remote_rm_url`` ending in ``.py``. A file that uses
package-relative imports fails there with "no known parent package", so
these tests load the installed files exactly that way, with the default
scorer (no scorer argument: the trainers cannot pass one) and with the
values the trainers really send: verl's batch manager hands numpy object
arrays, and a batch holds unknown tasks, malformed labels and programs that
run out of time.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from functools import partial
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Optional

import numpy as np
import pytest

from codeloop.integrations import default as default_module

pytestmark = pytest.mark.sandbox

GOOD = "```python\ndef max_element(l: list):\n    return max(l)\n```"
WRONG = "```python\ndef max_element(l: list):\n    return min(l)\n```"
LOOPS = "```python\ndef max_element(l: list):\n    while True:\n        pass\n```"
INLINE = {"task_id": "sq", "entry_point": "sq", "asserts": ["assert sq(3) == 9"], "time_limit": 1.0}


def load_like_a_trainer(module_name: str, relative: str) -> ModuleType:
    """What verl's get_custom_reward_fn and OpenRLHF's reward-function loader do."""
    path = default_module.__file__.replace("default.py", relative)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fresh_default_scorer(monkeypatch):
    """The adapters' own default scorer, closed after the test so no pool outlives it."""
    monkeypatch.delenv("CODELOOP_URL", raising=False)
    monkeypatch.delenv("CODELOOP_TASKS", raising=False)
    monkeypatch.delenv("CODELOOP_REWARD", raising=False)
    monkeypatch.setattr(default_module, "_default", None)
    yield
    if default_module._default is not None:
        default_module._default.close()


def test_verl_loads_the_file_by_path_and_scores_numpy_batches(fresh_default_scorer):
    module = load_like_a_trainer("custom_module", "verl.py")
    solutions = [GOOD, WRONG, LOOPS, GOOD, "def sq(x):\n    return x * x\n", GOOD]
    truths = ["HumanEval/35", "HumanEval/35", "HumanEval/35", "NoSuch/1", json.dumps(INLINE), "{not json"]
    # verl's batch reward manager: non_tensor_batch columns are numpy object arrays,
    # passed by keyword, with the config's reward_kwargs spread in.
    out = module.compute_score_batch(
        data_sources=np.array(["humaneval"] * 6, dtype=object),
        solution_strs=solutions,
        ground_truths=truths,
        extra_infos=np.array([{"index": i, "split": "train"} for i in range(6)], dtype=object),
        reward="pass",
    )
    assert all(tuple(r) == module.KEYS for r in out)
    assert [r["score"] for r in out] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert [r["infra_error"] for r in out] == [0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    assert out[2]["timeout"] == 1.0
    # verl's naive manager: one sample per call, by keyword.
    one = module.compute_score(data_source="humaneval", solution_str=GOOD, ground_truth=np.str_("HumanEval/35"),
                               extra_info=None)
    assert one["acc"] == 1.0


def test_openrlhf_loads_the_file_by_path_and_isolates_bad_labels(fresh_default_scorer):
    module = load_like_a_trainer("reward_func", "openrlhf.py")
    prompt = "<|im_start|>user\nmax_element<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + reply + "<|im_end|>" for reply in (GOOD, LOOPS, GOOD, GOOD)]
    labels = ["HumanEval/35", "HumanEval/35", "NoSuch/1", "{not json"]
    out = module.reward_func(queries, [prompt] * 4, labels)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert [float(x) for x in out["rewards"]] == [1.0, 0.0, 0.0, 0.0]
    assert [float(x) for x in out["extra_logs"]["infra_error"]] == [0.0, 0.0, 1.0, 1.0]
    assert [float(x) for x in out["extra_logs"]["pass"]] == [1.0, 0.0, 0.0, 0.0]


# verl's own code data: ground_truth is {"inputs", "outputs", "fn_name"?} as JSON text (prime_code's shape)
SUM_TRUTH = json.dumps({"inputs": ["1 2\n", "5 -7\n"], "outputs": ["3\n", "-2\n"]})
SUM_GOOD = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
SUM_LOOP = "```python\nwhile True:\n    pass\n```"
CALL_TRUTH = json.dumps({"fn_name": "add", "inputs": ["1\n2", "[1]\n[2]"], "outputs": ["3", "[1, 2]"]})
CALL_GOOD = "```python\ndef add(a, b):\n    return a + b\n```"


def test_verl_scores_its_own_code_datasets_by_path_with_numpy_batches(fresh_default_scorer):
    module = load_like_a_trainer("custom_module", "verl.py")
    truths = np.array([SUM_TRUTH, SUM_TRUTH, CALL_TRUTH, json.dumps({"inputs": ["1"], "outputs": []}),
                       SUM_TRUTH], dtype=object)
    out = module.compute_score_batch(
        data_sources=np.array(["codecontests", "taco", "apps", "codeforces", "taco"], dtype=object),
        solution_strs=[SUM_GOOD, SUM_LOOP, CALL_GOOD, SUM_GOOD, SUM_GOOD],
        ground_truths=truths,
        extra_infos=np.array([{"index": 0}, {"index": 1}, {"index": 2}, {"index": 3}, {"max_tests": 1}],
                             dtype=object),
        reward="first10",
    )
    assert [r["score"] for r in out] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert [r["infra_error"] for r in out] == [0.0, 0.0, 0.0, 1.0, 0.0]  # a malformed row costs that row only
    assert out[1]["timeout"] == 1.0


def test_openrlhf_reads_dataset_labels_by_path(fresh_default_scorer):
    module = load_like_a_trainer("reward_func", "openrlhf.py")
    prompt = "<|im_start|>user\nadd two numbers<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + reply + "<|im_end|>" for reply in (SUM_GOOD, CALL_GOOD)]
    out = module.reward_func(queries, [prompt] * 2, [SUM_TRUTH, CALL_TRUTH])
    assert [float(x) for x in out["rewards"]] == [1.0, 1.0]


SUM_WRONG = "Here is my solution.\n```python\na, b = map(int, input().split())\nprint(a - b)\n```\nIt subtracts."


def _verl_reward_loader():
    """verl 0.9.1's get_custom_reward_fn (trainer/ppo/reward.py) and the loader it calls,
    load_extern_object (utils/import_utils.py), from verl's installed files (benchmarks/verl_files.py).

    reward.py cannot be imported here: its first lines import ``verl`` (``from verl import DataProto``),
    whose __init__ imports torch, which is not installed. So the module the loader lives in,
    import_utils.py (standard library only), is loaded by path, and get_custom_reward_fn and
    _call_with_kwargs are compiled from reward.py's source as shipped; the ``from
    verl.utils.import_utils import load_extern_object`` inside get_custom_reward_fn finds the
    by-path module (the test puts it under that name in sys.modules)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from verl_files import load_verl_module, verl_functions

    import_utils = load_verl_module("utils", "import_utils")
    functions = verl_functions(("trainer", "ppo", "reward"), ["_call_with_kwargs", "get_custom_reward_fn"],
                               {"inspect": inspect, "partial": partial, "Optional": Optional})
    if import_utils is None or functions is None:
        pytest.skip("verl is not installed (pip install --no-deps verl==0.9.1)")
    return import_utils, functions


def test_verl_imports_the_module_by_pkg_name_and_scores_apps_truths(fresh_default_scorer, monkeypatch):
    import_utils, verl_fns = _verl_reward_loader()
    monkeypatch.setitem(sys.modules, "verl.utils.import_utils", import_utils)
    import codeloop.integrations.verl as adapter

    # verl's config: reward.custom_reward_function.{path,name,reward_kwargs}
    config = SimpleNamespace(reward={"custom_reward_function": {
        "path": "pkg://codeloop.integrations.verl", "name": "compute_score", "reward_kwargs": {"reward": "pass"}}})
    reward_fn = verl_fns["get_custom_reward_fn"](config)
    # pkg:// is importlib.import_module of the dotted name: the package's own module, not a copy by path
    assert isinstance(reward_fn, partial) and reward_fn.args[0] is adapter.compute_score
    assert import_utils.load_extern_object("pkg://codeloop/integrations/verl", "compute_score") is adapter.compute_score

    # verl's naive reward manager: one sample per call, by keyword; an APPS-shaped ground truth as verl's
    # code data stores it (JSON text), the model's reply with prose around a ```python fence
    extra = {"split": "train", "index": 0}
    good = reward_fn(data_source="apps", solution_str="Sure.\n" + SUM_GOOD, ground_truth=SUM_TRUTH,
                     extra_info=extra)
    wrong = reward_fn(data_source="apps", solution_str=SUM_WRONG, ground_truth=SUM_TRUTH, extra_info=extra)
    assert tuple(good) == tuple(wrong) == adapter.KEYS
    assert (good["score"], good["acc"], good["infra_error"]) == (1.0, 1.0, 0.0)
    assert (wrong["score"], wrong["acc"], wrong["infra_error"]) == (0.0, 0.0, 0.0)
    assert wrong["tests_fraction"] == 0.0


@pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="g++ is not installed")
def test_verl_scores_cpp_replies_to_codecontests_rows_by_path(fresh_default_scorer):
    """A ```cpp reply to verl's codecontests data is judged as C++ (verl's compute_score_batch, loaded by path,
    numpy object arrays as its batch reward manager passes them); a compile error is that row's syntax_error."""
    module = load_like_a_trainer("custom_module", "verl.py")
    good = "```cpp\n#include <bits/stdc++.h>\nint main() { long long a, b; std::cin >> a >> b; " \
           "std::cout << a + b << std::endl; }\n```"
    out = module.compute_score_batch(
        data_sources=np.array(["codecontests", "codecontests", "codecontests"], dtype=object),
        solution_strs=[good, "```c++\nint main() { return }\n```", SUM_GOOD],
        ground_truths=np.array([SUM_TRUTH] * 3, dtype=object),
        extra_infos=np.array([{"index": i} for i in range(3)], dtype=object),
    )
    assert [r["score"] for r in out] == [1.0, 0.0, 1.0]
    assert out[1]["syntax_error"] == 1.0 and all(r["infra_error"] == 0.0 for r in out)
