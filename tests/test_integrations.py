"""The trainer adapters, called exactly as TRL, verl and OpenRLHF call them."""

import asyncio
import inspect
import json

import pytest

from codeloop.extract import extract_program, response_of
from codeloop.integrations import openrlhf, verl
from codeloop.integrations.trl import async_reward_function, reward_function
from codeloop.scoring.local import LocalScorer
from codeloop.tasks import load_benchmark

pytestmark = pytest.mark.sandbox

GOOD = "```python\ndef max_element(l: list):\n    return max(l)\n```"
WRONG = "Here is my answer:\n```python\ndef max_element(l: list):\n    return min(l)\n```\nIt is fast."
BODY = "    return max(l)\n"
INLINE = {"task_id": "sq", "entry_point": "sq", "asserts": ["assert sq(3) == 9", "assert sq(-2) == 4"],
          "reference": "def sq(x):\n    return x * x\n"}


@pytest.fixture(scope="module")
def scorer():
    s = LocalScorer(load_benchmark("humaneval"), workers=2)
    yield s
    s.close()


def test_trl_sync_signature_and_values(scorer):
    f = reward_function("coderl", scorer=scorer)
    assert list(inspect.signature(f).parameters)[:3] == ["prompts", "completions", "completion_ids"]
    assert f.__name__ == "codeloop_coderl"
    out = f(prompts=["p"] * 4, completions=[GOOD, WRONG, BODY, "I don't know."], completion_ids=[[1]] * 4,
            task_id=["HumanEval/35"] * 4, trainer_state=object())
    assert out == [1.0, -0.3, 1.0, -1.0]


def test_trl_chat_completions_and_inline_tasks(scorer):
    f = reward_function("fraction", scorer=scorer)
    chat = [[{"role": "assistant", "content": "```python\ndef sq(x):\n    return x * abs(x)\n```"}],
            [{"role": "assistant", "content": "def sq(x):\n    return x ** 2\n"}]]
    columns = {k: [v, v] for k, v in INLINE.items()}
    assert f(prompts=["p", "p"], completions=chat, **columns) == [0.5, 1.0]


def test_trl_unknown_task_gives_none(scorer):
    f = reward_function("pass", scorer=scorer)
    assert f(prompts=["p"], completions=[GOOD], task_id=["NoSuch/1"]) == [None]


def test_trl_async(scorer):
    f = async_reward_function("pass", scorer=scorer)
    assert inspect.iscoroutinefunction(f)
    out = asyncio.run(f(prompts=["p"] * 2, completions=[GOOD, WRONG], completion_ids=None,
                        task_id=["HumanEval/35"] * 2))
    assert out == [1.0, 0.0]


def test_verl_keys_are_the_same_for_every_sample(scorer):
    results = [
        verl.compute_score("humaneval", GOOD, "HumanEval/35", scorer=scorer),
        verl.compute_score("humaneval", "```python\ndef max_element(l)\n```", "HumanEval/35", {}, scorer=scorer),
        verl.compute_score("mine", "def sq(x):\n    return x * x\n", json.dumps(INLINE), scorer=scorer),
        verl.compute_score("mine", "def sq(x):\n    return x\n", INLINE, scorer=scorer),
        verl.compute_score("humaneval", GOOD, "NoSuch/1", scorer=scorer),
    ]
    assert all(tuple(r) == verl.KEYS for r in results)
    assert [r["score"] for r in results] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert results[1]["syntax_error"] == 1.0 and results[4]["infra_error"] == 1.0
    assert all(isinstance(v, float) for r in results for v in r.values())
    batch = verl.compute_score_batch(["humaneval"] * 2, [GOOD, WRONG], ["HumanEval/35"] * 2, scorer=scorer)
    assert [r["acc"] for r in batch] == [1.0, 0.0]


def test_openrlhf_strips_the_chat_template(scorer):
    prompt = "<|im_start|>system\nYou write Python.<|im_end|>\n<|im_start|>user\nmax_element<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + GOOD + "<|im_end|><|endoftext|>", prompt + WRONG + "<|im_end|>"]
    out = openrlhf.reward_func(queries, [prompt, prompt], ["HumanEval/35", "HumanEval/35"], scorer=scorer)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert [float(x) for x in out["rewards"]] == [1.0, 0.0]
    assert [float(x) for x in out["scores"]] == [1.0, 0.0]
    assert [float(x) for x in out["extra_logs"]["infra_error"]] == [0.0, 0.0]


def test_openrlhf_response_without_exact_prompt_prefix():
    prompt = "<s>[INST] write it [/INST]"
    assert response_of("<s> [INST] write it [/INST]" + BODY + "</s>", prompt).strip() != ""
    assert response_of(prompt + "answer</s>", prompt) == "answer"


@pytest.mark.parametrize("reply, kind, must", [
    (BODY, "completion", "def max_element"),
    (GOOD, "solution", "return max(l)"),
    ("return max(l)", "completion", "    return max(l)"),
    ("Sorry, I can't help with that.", "none", ""),
    ("", "none", ""),
    ("```\ndef max_element(l):\n    return max(l)\n", "solution", "return max(l)"),   # unclosed fence
])
def test_code_extraction(reply, kind, must):
    task = load_benchmark("humaneval")["HumanEval/35"]
    ex = extract_program(reply, task.prompt, task.entry_point)
    assert ex.kind == kind and must in ex.program


def test_a_reply_that_repeats_the_prompt():
    task = load_benchmark("humaneval")["HumanEval/35"]
    ex = extract_program(task.prompt + BODY, task.prompt, task.entry_point)
    assert ex.kind == "solution" and ex.program == task.prompt + BODY
