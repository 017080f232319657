"""The Ray backend on a local Ray cluster the test starts: several actor
processes, each with its own warm pool; a killed actor costs retries, not results."""

import os
import signal
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from codeloop.integrations.trl import reward_function  # noqa: E402
from codeloop.scoring.ray import RayScorer  # noqa: E402
from codeloop.types import Status  # noqa: E402

pytestmark = pytest.mark.sandbox

GOOD = "def max_element(l):\n    return max(l)\n"
WRONG = "def max_element(l):\n    return min(l)\n"
SLOW = "import time\ndef max_element(l):\n    time.sleep(0.3)\n    return max(l)\n"


@pytest.fixture(scope="module")
def scorer():
    s = RayScorer(address=None, actors=2, workers_per_actor=1, chunk=2, num_cpus=2)
    yield s
    s.close()
    ray.shutdown()


def test_same_rewards_as_the_local_pool(scorer):
    f = reward_function("coderl", scorer=scorer)
    out = f(prompts=["p"] * 6, completions=[GOOD, WRONG] * 3, task_id=["HumanEval/35"] * 6)
    assert out == [1.0, -0.3] * 3
    pids = {ray.get(a.pid.remote()) for a in scorer.actors}
    assert len(pids) == 2 and os.getpid() not in pids  # separate processes


def test_a_lost_actor_costs_retries_not_results(scorer):
    victim = scorer.actors[0]
    pid = ray.get(victim.pid.remote())
    items = [(scorer.resolve({"task_id": "HumanEval/35"}), SLOW)] * 8
    threading.Timer(0.5, lambda: os.kill(pid, signal.SIGKILL)).start()
    start = time.monotonic()
    verdicts = scorer.judge_many(items)
    assert [v.status for v in verdicts] == [Status.PASSED] * 8
    assert victim not in scorer.actors  # replaced
    assert time.monotonic() - start < 120
