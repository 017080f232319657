"""Package environments (issue 13): built once with pip, read-only, warm in their workers."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import CODELOOP, read_jsonl, write_jsonl

pytestmark = pytest.mark.sandbox
NUMPY = "numpy==2.1.3"
PANDAS = "pandas==2.2.3"


def judged(env: dict, tmp_path, tasks: list[dict], samples: list[dict] | None, name: str = "results") -> list[dict]:
    """``codeloop eval`` of ``samples`` (None: the tasks' references) on ``tasks``, as a user runs it."""
    command = [CODELOOP, "eval", "--tasks", str(write_jsonl(tmp_path / f"{name}-tasks.jsonl", tasks)),
               "--out", str(tmp_path / f"{name}.jsonl"), "-q"]
    if samples is not None:
        command += ["--samples", str(write_jsonl(tmp_path / f"{name}-samples.jsonl", samples))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_jsonl(tmp_path / f"{name}.jsonl")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A CODELOOP_CACHE of the module's own, with a numpy environment built by the CLI, as a user builds it."""
    folder = tmp_path_factory.mktemp("cache")
    reqs = folder / "requirements.txt"
    reqs.write_text(f"{NUMPY}  # arrays\n\n{PANDAS}\n")
    env = dict(os.environ, CODELOOP_CACHE=str(folder))
    built = subprocess.run([CODELOOP, "env", "build", str(reqs), "--name", "np"], capture_output=True, text=True,
                           env=env, timeout=900)
    if built.returncode != 0 and "Could not find a version" in built.stdout + built.stderr:
        pytest.skip("numpy cannot be installed here (no package registry)")
    assert built.returncode == 0, built.stdout + built.stderr
    return folder, env


def test_build_list_and_the_same_pins_build_once(cache, monkeypatch):
    folder, env = cache
    listed = json.loads(subprocess.run([CODELOOP, "env", "list", "--json"], capture_output=True, text=True,
                                       env=env).stdout)
    (entry,) = listed
    assert entry["names"] == ["np"] and {NUMPY, PANDAS} <= set(entry["resolved"])
    assert {"numpy", "pandas"} <= set(entry["warm"])
    monkeypatch.setenv("CODELOOP_CACHE", str(folder))
    from codeloop.sandbox.environments import build, find

    again = build([NUMPY, PANDAS], "arrays")  # another name, the same pins: the same folder, nothing reinstalled
    assert again.key == entry["key"] and find("arrays").site == find("np").site
    assert len(os.listdir(folder / "envs")) == 2  # the one environment and names.json
    # the files are read-only on the host too (root ignores that: the sandbox's read-only bind holds, below)
    init = os.path.join(find("np").site, "numpy", "__init__.py")
    assert not os.stat(init).st_mode & 0o222


def test_a_task_imports_its_environment_and_nothing_else_does(cache, tmp_path):
    folder, env = cache
    numpy_task = {"task_id": "mean", "entry_point": "mean_of", "environment": "np",
                  "asserts": ["assert mean_of([1, 2, 3, 6]) == 3.0"]}
    plain_task = dict(numpy_task, task_id="plain")
    del plain_task["environment"]
    uses_numpy = "import numpy as np\n\ndef mean_of(xs):\n    return float(np.mean(np.array(xs)))\n"
    writes_into_it = ("import numpy, os\n\ndef mean_of(xs):\n"
                      "    open(os.path.join(os.path.dirname(numpy.__file__), 'planted.py'), 'w').write('x')\n"
                      "    return 3.0\n")
    first, second, third = judged(env, tmp_path, [numpy_task, plain_task], [
        {"task_id": "mean", "solution": uses_numpy}, {"task_id": "mean", "solution": writes_into_it},
        {"task_id": "plain", "solution": uses_numpy}])
    assert first["status"] == "passed"
    assert second["status"] == "error" and "Read-only file system" in second["failure"]["exception"]["message"]
    assert third["status"] == "error" and "No module named 'numpy'" in third["failure"]["exception"]["message"]
    site = json.loads(subprocess.run([CODELOOP, "env", "list", "--json"], capture_output=True, text=True,
                                     env=env).stdout)[0]
    assert not any("planted" in name for name in os.listdir(os.path.join(folder, "envs", site["key"], "site",
                                                                         "numpy")))


def test_a_task_naming_an_environment_not_built_says_how_to_build_it(cache, tmp_path):
    _, env = cache
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{"task_id": "t", "entry_point": "f", "environment": "pandas-2",
                                                    "asserts": ["assert f() == 1"]}])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "t", "solution": "def f():\n    return 1\n"}])
    done = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks), "--samples", str(samples), "--out",
                           str(tmp_path / "r.jsonl"), "-q"], capture_output=True, text=True, env=env)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0 and "tasks.jsonl:1" in said and "environment" in said
    assert "codeloop env build REQUIREMENTS.txt --name pandas-2" in said


def build_small(env: dict, tmp_path, name: str) -> None:
    """``codeloop env build`` of a one-package environment called ``name``."""
    reqs = tmp_path / f"{name}.txt"
    reqs.write_text("six==1.16.0\n")
    assert subprocess.run([CODELOOP, "env", "build", str(reqs), "-n", name], capture_output=True,
                          env=env).returncode == 0


def test_rm_removes_it(cache, tmp_path):
    _, env = cache
    build_small(env, tmp_path, "tiny")
    assert subprocess.run([CODELOOP, "env", "rm", "tiny"], capture_output=True, env=env).returncode == 0
    gone = subprocess.run([CODELOOP, "env", "rm", "tiny"], capture_output=True, text=True, env=env)
    assert gone.returncode == 2 and "not built" in gone.stdout + gone.stderr


def test_numpy_values_cross_the_split_with_exact_types(cache, tmp_path):
    """The tests run in the judge on rebuilt arrays: an ndarray subclass whose == always agrees earns nothing."""
    _, env = cache
    task = {"task_id": "ramp", "entry_point": "ramp", "environment": "np", "setup": "import numpy as np",
            "asserts": ["assert type(ramp(3)) is np.ndarray and ramp(3).dtype == np.int64",
                        "assert (ramp(3) == np.arange(3)).all()"]}
    right = "import numpy as np\n\ndef ramp(n):\n    return np.arange(n, dtype=np.int64)\n"
    liar = ("import numpy as np\n\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n"
            "        return np.ones(np.shape(other), dtype=bool)\n\n"
            "def ramp(n):\n    return np.zeros(n, dtype=np.int64).view(Liar)\n")
    passed, cheated = judged(env, tmp_path, [task], [{"task_id": "ramp", "solution": right},
                                                     {"task_id": "ramp", "solution": liar}])
    assert passed["status"] == "passed", passed["failure"]
    assert cheated["status"] == "failed" and cheated["tests_passed"] == 1


def test_a_dataframe_crosses_the_split_and_is_compared_in_the_judge(cache, tmp_path):
    _, env = cache
    task = {"task_id": "totals", "entry_point": "totals", "environment": "np", "setup": "import pandas as pd",
            "asserts": ["assert pd.testing.assert_frame_equal(totals([('a', 1), ('b', 2), ('a', 3)]), "
                        "pd.DataFrame({'total': [4, 2]}, index=pd.Index(['a', 'b'], name='key'))) is None"]}
    right = ("import pandas as pd\n\ndef totals(rows):\n    df = pd.DataFrame(rows, columns=['key', 'value'])\n"
             "    return df.groupby('key').sum().rename(columns={'value': 'total'})\n")
    wrong = right.replace(".sum()", ".max()")
    passed, failed = judged(env, tmp_path, [task], [{"task_id": "totals", "solution": right},
                                                    {"task_id": "totals", "solution": wrong}])
    assert passed["status"] == "passed", passed["failure"]
    assert failed["status"] == "failed"


def test_a_ds1000_reference_with_int_labels_and_a_date_range_passes_against_itself(cache, tmp_path):
    """The checker compares with pd.testing's strict defaults: the reference's frame, crossed from its program,
    must equal the one the judge made (int column labels keep their dtype, a date_range index its freq)."""
    _, env = cache
    frame = ("import numpy as np\nimport pandas as pd\n\n"
             "df = pd.DataFrame(np.arange(6).reshape(3, 2), index=pd.date_range('2024-01-01', periods=3))\n[insert]\n")
    checker = ("import pandas as pd\n\n\ndef check_result(result, expected):\n"
               "    pd.testing.assert_{}_equal(result, expected)\n")
    rows = [{"task_id": "int-labels", "code_context": frame, "reference_code": "result = df ** 2",
             "checker": checker.format("frame"), "environment": "np"},
            {"task_id": "hourly", "code_context": frame, "checker": checker.format("series"), "environment": "np",
             "reference_code": "result = pd.Series([1, 2], index=pd.date_range('2024-01-01', periods=2, freq='h'))"},
            {"task_id": "named-labels", "code_context": frame, "checker": checker.format("frame"),
             "environment": "np", "reference_code": "result = df.rename_axis(index='day', columns='n')"}]
    results = judged(env, tmp_path, rows, None)
    assert [r["status"] for r in results] == ["passed"] * 3, [r["failure"] for r in results]
    text_labels = [{"task_id": "int-labels", "solution": "result = (df ** 2).rename(columns=str)"}]
    labelled = judged(env, tmp_path, rows[:1], text_labels, name="text-labels")
    assert labelled[0]["status"] == "failed"  # the same numbers under text labels: the checker tells them apart


def test_a_program_sees_its_environment_only(cache, tmp_path):
    """Neither the packages of codeloop's own venv (pydantic, pyarrow) nor another environment are there."""
    folder, env = cache
    build_small(env, tmp_path, "other")
    other = next(e for e in json.loads(subprocess.run([CODELOOP, "env", "list", "--json"], capture_output=True,
                                                      text=True, env=env).stdout) if "other" in e["names"])
    other_site = str(folder / "envs" / other["key"] / "site")
    probe = ("import importlib, os\n\ndef can(name):\n    try:\n        importlib.import_module(name)\n"
             "        return True\n    except ImportError:\n        return False\n\ndef seen():\n"
             "    return [can(m) for m in ('numpy', 'six', 'pydantic', 'pyarrow')]"
             f" + [os.path.exists({other_site!r})]\n")
    task = {"task_id": "probe", "entry_point": "seen", "environment": "np",
            "asserts": ["assert seen() == [True, False, False, False, False]"]}
    (result,) = judged(env, tmp_path, [task], [{"task_id": "probe", "solution": probe}])
    assert result["status"] == "passed", result["failure"]


def test_bigcodebench_style_tasks_reference_passes_and_broken_fail(cache, tmp_path):
    """examples/bigcodebench_style.jsonl: unittest TestCases over task_func, run in the judge through the split."""
    from pathlib import Path

    _, env = cache
    examples = Path(__file__).resolve().parent.parent / "examples"
    rows = [dict(r, environment="np") if "environment" in r else r
            for r in read_jsonl(examples / "bigcodebench_style.jsonl")]
    broken = read_jsonl(examples / "bigcodebench_style_broken.jsonl")
    for samples, expected in ((None, "passed"), (broken, "failed")):
        results = judged(env, tmp_path, rows, samples, name=expected)
        assert [r["status"] for r in results] == [expected] * 3, [r["failure"] for r in results]
        if expected == "failed":
            assert all("tests failed; first: test_" in r["failure"]["exception"]["message"] for r in results)


def test_ds1000_style_tasks_reference_passes_and_broken_fail(cache, tmp_path):
    """examples/ds1000_style.jsonl: the code goes at [insert]; the judge compares `result` with the reference's
    using the library's own testing helpers."""
    from pathlib import Path

    _, env = cache
    examples = Path(__file__).resolve().parent.parent / "examples"
    results = judged(env, tmp_path, [dict(r, environment="np") for r in read_jsonl(examples / "ds1000_style.jsonl")],
                     read_jsonl(examples / "ds1000_style_samples.jsonl"))
    assert [r["status"] for r in results] == ["passed"] * 3 + ["failed"] * 3


def test_a_reply_goes_into_the_template():
    from codeloop.extract import extract_for_task
    from codeloop.tasks.formats import task_from_format

    row = {"task_id": "t", "code_context": "import numpy as np\nx = np.arange(3)\n[insert]\n",
           "reference_code": "result = x * 2", "checker": "def check_result(result, expected):\n    return True\n"}
    task = task_from_format(row, "ds1000")
    for reply in ("Here:\n```python\nresult = x + x\n```", "<code>\nresult = x + x\n</code>", "result = x + x"):
        _, ex = extract_for_task(task, reply)
        assert ex.kind == "solution" and ex.program.startswith("import numpy as np\nx = np.arange(3)\nresult = x + x")
        assert "def ds1000_result()" in ex.program and ex.code.strip() == "result = x + x"
    assert extract_for_task(task, "  \n")[1].kind == "none"


def test_building_again_under_another_name_of_the_same_environment_says_that_name(tmp_path, monkeypatch):
    """``data`` and ``bench-data`` name one environment (its manifest says ``bench-data``): building ``data`` again
    from the same requirements asks pip nothing and reports, and resolves, ``data``."""
    from codeloop.sandbox.environments import Environment, build, find, python_version

    monkeypatch.setenv("CODELOOP_CACHE", str(tmp_path))
    key = "0123456789abcdef"
    site = tmp_path / "envs" / key / "site"
    site.mkdir(parents=True)
    made = Environment(key, "bench-data", str(site), python_version(), ("six==1.16.0",), ("six==1.16.0",),
                       ("six",), 1.0)
    (site.parent / "manifest.json").write_text(json.dumps(made.to_dict()))
    (tmp_path / "envs" / "names.json").write_text(json.dumps({"bench-data": key, "data": key}))
    again = build(["six==1.16.0"], "data")
    assert (again.name, again.key) == ("data", key) and find("data").key == key
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("six==1.16.0\n")
    shown = subprocess.run([CODELOOP, "env", "build", str(reqs), "--name", "data"], capture_output=True, text=True,
                           env=dict(os.environ, CODELOOP_CACHE=str(tmp_path)), timeout=120)
    said = " ".join((shown.stdout + shown.stderr).split())
    assert shown.returncode == 0 and "environment data (" in said, said
