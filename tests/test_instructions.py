"""The code instruction registry: every instruction on code that follows it and
code that does not; parameters, conflicts, the task format, eval's report."""

import json
import subprocess

import pytest
from conftest import CODELOOP, read_jsonl, write_jsonl

from codeloop.instructions import GROUPS, REGISTRY, InstructionError, catalogue, check_instructions, validate


# id -> (params, code that follows it, code that violates it)
EXAMPLES = {
    "style:max_line_length": ({"n": 40}, "x = 1\n", "x = 'a very long string that goes on and on and on'\n"),
    "style:snake_case_functions": ({}, "def add_one(x):\n    return x\n", "def AddOne(x):\n    return x\n"),
    "style:snake_case_variables": ({}, "def f(my_arg):\n    total = my_arg\n    return total\n",
                                   "def f(myArg):\n    Total = myArg\n    return Total\n"),
    "style:pascal_case_classes": ({}, "class MyThing:\n    pass\n", "class my_thing:\n    pass\n"),
    "style:string_quotes": ({"quote": "double"}, 'x = "a"\ny = "it\'s"\n', "x = 'a'\n"),
    "style:use_fstrings": ({}, "x = 1\ns = f'{x}'\n", "x = 1\ns = '%d' % x\nt = '{}'.format(x)\n"),
    "style:indent_width": ({"n": 4}, "if True:\n    x = 1\n", "if True:\n  x = 1\n"),
    "style:no_semicolons": ({}, "x = 1\ny = 2\n", "x = 1; y = 2\n"),
    "style:max_function_length": ({"n": 3}, "def f():\n    return 1\n", "def f():\n    a = 1\n    b = 2\n    return a + b\n"),
    "style:no_trailing_whitespace": ({}, "x = 1\n", "x = 1   \n"),
    "logic:use_comprehensions": ({}, "def f(xs):\n    return [x * 2 for x in xs]\n",
                                 "def f(xs):\n    out = []\n    for x in xs:\n        out.append(x * 2)\n    return out\n"),
    "logic:no_global_statements": ({}, "def f():\n    return 1\n", "n = 0\ndef f():\n    global n\n    n += 1\n"),
    "logic:max_branches": ({"n": 2}, "def f(x):\n    if x:\n        return 1\n    return 0\n",
                           "def f(x):\n    if x == 1:\n        return 1\n    elif x == 2:\n        return 2\n"
                           "    elif x == 3:\n        return 3\n    return 0\n"),
    "logic:max_arguments": ({"n": 2}, "def f(a, b):\n    return a\n", "def f(a, b, c):\n    return a\n"),
    "logic:max_nesting_depth": ({"n": 2}, "def f(xs):\n    for x in xs:\n        if x:\n            return x\n",
                                "def f(xs):\n    for x in xs:\n        if x:\n            while x:\n                x -= 1\n"),
    "logic:max_complexity": ({"n": 2}, "def f(x):\n    return x\n",
                             "def f(x):\n    if x:\n        return 1\n    if x > 2:\n        return 2\n    return 3\n"),
    "logic:no_while_loops": ({}, "for i in range(3):\n    pass\n", "i = 0\nwhile i < 3:\n    i += 1\n"),
    "logic:no_recursion": ({}, "def f(n):\n    return n\n", "def f(n):\n    return 1 if n == 0 else n * f(n - 1)\n"),
    "logic:max_returns": ({"n": 1}, "def f(x):\n    return x\n", "def f(x):\n    if x:\n        return 1\n    return 2\n"),
    "logic:no_lambda": ({}, "def key(x):\n    return x\n", "key = lambda x: x\n"),
    "docs:function_docstrings": ({}, 'def f():\n    """Do f."""\n', "def f():\n    pass\n"),
    "docs:docstring_convention": ({"style": "google"}, 'def f(a):\n    """Do f.\n\n    Args:\n        a: a value.\n    """\n',
                                  'def f(a):\n    """Do f with a."""\n'),
    "docs:type_annotations": ({}, "def f(a: int) -> int:\n    return a\n", "def f(a):\n    return a\n"),
    "docs:min_comments": ({"n": 1}, "x = 1  # one\n", "x = 1\n"),
    "docs:no_comments": ({}, "x = 1\n", "x = 1  # a comment\n"),
    "docs:module_docstring": ({}, '"""The module."""\nx = 1\n', "x = 1\n"),
    "errors:no_bare_except": ({}, "try:\n    x = 1\nexcept ValueError:\n    x = 2\n", "try:\n    x = 1\nexcept:\n    x = 2\n"),
    "errors:no_broad_except": ({}, "try:\n    x = 1\nexcept ValueError:\n    x = 2\n",
                               "try:\n    x = 1\nexcept Exception:\n    x = 2\n"),
    "errors:no_generic_raise": ({}, "def f():\n    raise ValueError('bad')\n", "def f():\n    raise Exception('bad')\n"),
    "errors:handle_errors": ({}, "try:\n    x = 1\nexcept ValueError:\n    x = 2\n", "x = 1\n"),
    "errors:no_assert": ({}, "def f(x):\n    if not x:\n        raise ValueError\n", "def f(x):\n    assert x\n"),
    "errors:no_silent_except": ({}, "try:\n    x = 1\nexcept ValueError:\n    x = 2\n",
                                "try:\n    x = 1\nexcept ValueError:\n    pass\n"),
    "api:banned_imports": ({"modules": ["os"]}, "import math\n", "import os.path\n"),
    "api:required_import": ({"module": "itertools"}, "from itertools import chain\n", "import math\n"),
    "api:no_print": ({}, "def f():\n    return 1\n", "print('hi')\n"),
    "api:banned_calls": ({"names": ["eval", "os.system"]}, "x = int('1')\n", "import os\nos.system('ls')\nx = eval('1')\n"),
    "api:no_star_imports": ({}, "from math import pi\n", "from math import *\n"),
    "api:stdlib_only": ({}, "import json\n", "import numpy\n"),
    "api:use_pathlib": ({}, "from pathlib import Path\ntext = Path('a').read_text()\n",
                        "import os\np = os.path.join('a', 'b')\n"),
}


def test_registry_size_and_groups():
    assert len(REGISTRY) >= 30
    assert {cls.group for cls in REGISTRY.values()} == set(GROUPS)
    assert set(EXAMPLES) == set(REGISTRY), "every instruction has an example here"


@pytest.mark.parametrize("ident", sorted(EXAMPLES))
def test_each_instruction_on_good_and_bad_code(ident):
    params, good, bad = EXAMPLES[ident]
    spec = [{"id": ident, **params}]
    (ok,) = check_instructions(good, spec)
    assert ok["passed"], ok["violations"]
    (ko,) = check_instructions(bad, spec)
    assert not ko["passed"]
    v = ko["violations"][0]
    assert v["line"] >= 1 and v["column"] >= 1 and v["message"] and v["rule"]
    assert ko["sentence"] and "{" not in ko["sentence"]


def test_checks_are_deterministic():
    code = EXAMPLES["logic:max_branches"][2]
    specs = [{"id": i, **p} for i, (p, _, _) in EXAMPLES.items() if i != "docs:no_comments"]
    assert check_instructions(code, specs) == check_instructions(code, specs)


def test_violations_in_the_prompt_do_not_count():
    prompt = "def f(x):\n    'a prompt line far longer than forty characters, not the model's'\n"
    completion = "    return x\n"
    (r,) = check_instructions(prompt + completion, [{"id": "style:max_line_length", "n": 40}], first_line=2)
    assert r["passed"]
    (r,) = check_instructions(prompt + completion, [{"id": "style:max_line_length", "n": 40}])
    assert not r["passed"]


def test_code_that_does_not_parse_fails_ast_checks():
    (r,) = check_instructions("def f(:\n", [{"id": "logic:no_lambda"}])
    assert not r["passed"] and "does not parse" in r["violations"][0]["message"]


@pytest.mark.parametrize("specs, field, words", [
    ([{"id": "nope:thing"}], "[0].id", "unknown instruction"),
    ([{"id": "style:max_line_length", "n": "80"}], "[0].n", "integer"),
    ([{"id": "style:max_line_length", "n": 5}], "[0].n", "at least 20"),
    ([{"id": "style:max_line_length", "width": 80}], "[0].width", "takes no parameter"),
    ([{"id": "style:string_quotes", "quote": "back"}], "[0].quote", "one of double, single"),
    ([{"id": "docs:no_comments"}, {"id": "docs:min_comments"}], "[1].id", "conflicts"),
    ([{"id": "api:no_print"}, {"id": "api:no_print"}], "[1].id", "twice"),
    ([{"id": "api:banned_imports", "modules": ["json"]}, {"id": "api:required_import", "module": "json"}],
     "[1].id", "both required and banned"),
    ([{"id": "api:stdlib_only"}, {"id": "api:required_import", "module": "numpy"}], "[1].id", "standard library"),
])
def test_bad_specs(specs, field, words):
    with pytest.raises(InstructionError) as info:
        validate(specs)
    assert info.value.field == field and words in str(info.value)


def test_catalogue_lists_every_instruction_with_parameters():
    entries = {e["id"]: e for e in catalogue()}
    assert set(entries) == set(REGISTRY)
    assert entries["style:max_line_length"]["params"][0]["name"] == "n"
    assert entries["docs:no_comments"]["conflicts"] == ["docs:min_comments"]
    proc = subprocess.run([CODELOOP, "instructions", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0 and len(json.loads(proc.stdout)) == len(REGISTRY)


@pytest.mark.sandbox
def test_eval_reports_instructions_per_sample_and_in_the_summary(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{
        "task_id": "double", "entry_point": "double", "asserts": ["assert double(2) == 4"],
        "reference": "def double(x: int) -> int:\n    return 2 * x\n",
        "instructions": [{"id": "docs:type_annotations"}, {"id": "logic:no_lambda"}]}])
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "double", "solution": "def double(x: int) -> int:\n    return 2 * x\n"},
        {"task_id": "double", "solution": "double = lambda x: 2 * x\n"},
        {"task_id": "double", "solution": "def double(x):\n    return x + 1\n"},
    ])
    out = tmp_path / "r.jsonl"
    proc = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out), "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    a, b, c = read_jsonl(out)
    assert [i["passed"] for i in a["instructions"]] == [True, True]
    assert b["passed"] and [i["passed"] for i in b["instructions"]] == [True, False]
    assert not c["passed"] and [i["passed"] for i in c["instructions"]] == [False, True]
    summary = json.loads((tmp_path / "r.summary.json").read_text())["instructions"]
    near = lambda x: pytest.approx(x, abs=1e-3)  # noqa: E731 - the summary rounds to 4 places
    assert summary["instruction_level"] == near(4 / 6)
    assert summary["all_followed"] == near(1 / 3)
    assert summary["passed_and_all_followed"] == near(1 / 3)
    assert summary["by_id"] == {"docs:type_annotations": near(2 / 3), "logic:no_lambda": near(2 / 3)}


@pytest.mark.sandbox
def test_task_file_instruction_errors_name_line_and_field(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        {"task_id": "a", "entry_point": "f", "asserts": ["assert f() == 1"], "instructions": [{"id": "api:no_print"}]},
        {"task_id": "b", "entry_point": "f", "asserts": ["assert f() == 1"],
         "instructions": [{"id": "api:no_print"}, {"id": "style:max_line_length", "n": "wide"}]},
    ])
    proc = subprocess.run([CODELOOP, "eval", "--tasks", str(tasks), "--out", str(tmp_path / "r.jsonl")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "tasks.jsonl:2: field 'instructions[1].n': must be an integer" in " ".join(proc.stderr.split())
