"""The Ray backend on local Ray clusters the tests start: several actor
processes, each with its own warm pool; a killed actor costs retries, not
results; a lost node's chunks run on the actors left, and with none left the
batch ends with infra_error verdicts instead of waiting.

Each class holds its own Ray (class-scoped fixtures, torn down at the end of
the class), so the one-node Ray and the two-node cluster never overlap."""

import os
import secrets
import signal
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from codeloop.integrations.trl import reward_function  # noqa: E402
from codeloop.scoring.ray import RayScorer  # noqa: E402
from codeloop.types import EvaluatorFailed, Status  # noqa: E402

pytestmark = pytest.mark.sandbox

GOOD = "def max_element(l):\n    return max(l)\n"
WRONG = "def max_element(l):\n    return min(l)\n"
SLOW = "import time\ndef max_element(l):\n    time.sleep(0.3)\n    return max(l)\n"
SLOW_WRONG = "import time\ndef max_element(l):\n    time.sleep(0.3)\n    return min(l)\n"


@pytest.fixture(scope="class")
def scorer():
    s = RayScorer(address="local", actors=2, workers_per_actor=1, chunk=2, num_cpus=2)  # never another's Ray
    yield s
    s.close()
    ray.shutdown()


class TestOneNode:
    def test_same_rewards_as_the_local_pool(self, scorer):
        f = reward_function("coderl", scorer=scorer)
        out = f(prompts=["p"] * 6, completions=[GOOD, WRONG] * 3, task_id=["HumanEval/35"] * 6)
        assert out == [1.0, -0.3] * 3
        pids = {ray.get(a.pid.remote()) for a in scorer.actors}
        assert len(pids) == 2 and os.getpid() not in pids  # separate processes

    def test_a_lost_actor_costs_retries_not_results(self, scorer):
        victim = scorer.actors[0]
        pid = ray.get(victim.pid.remote())
        items = [(scorer.resolve({"task_id": "HumanEval/35"}), SLOW)] * 8
        threading.Timer(0.5, lambda: os.kill(pid, signal.SIGKILL)).start()
        start = time.monotonic()
        verdicts = scorer.judge_many(items)
        assert [v.status for v in verdicts] == [Status.PASSED] * 8
        assert victim not in scorer.actors  # replaced
        assert time.monotonic() - start < 120


@pytest.fixture(scope="class")
def cluster():
    """A Ray cluster with token authentication on: a head with no CPUs (this
    process's node, which must outlive the test) that tests add one-CPU
    worker nodes to, so each node fits exactly one actor."""
    from ray._private.authentication_test_utils import reset_auth_token_state
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    reset_auth_token_state()  # Ray caches the mode and the token per process
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        c.connect()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_auth_token_state()


def _node_pair(cluster):
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    return nodes


def _remove_later(cluster, nodes, delay):
    """Kill nodes (every process, no grace) from another thread, as a crash would."""
    def kill():
        for n in nodes:
            cluster.remove_node(n, allow_graceful=False)
    t = threading.Timer(delay, kill)
    t.start()
    return t


def _items(scorer, n):
    task = scorer.resolve({"task_id": "HumanEval/35"})
    return [(task, SLOW if i % 3 else SLOW_WRONG) for i in range(n)]


def _expected(n):
    return [Status.PASSED if i % 3 else Status.FAILED for i in range(n)]


class TestTwoNodes:
    def test_a_lost_node_s_chunks_run_on_the_actor_left(self, cluster):
        nodes = _node_pair(cluster)
        # no free CPU anywhere once both actors are up: the dead one's replacement cannot be placed
        s = RayScorer(actors=2, workers_per_actor=1, chunk=2, place_timeout=30, spread=True)
        try:
            warm = _items(s, 4)
            assert [v.status for v in s.judge_many(warm)] == _expected(4)
            items = _items(s, 16)
            killer = _remove_later(cluster, nodes[1:], 1.0)
            start = time.monotonic()
            verdicts = s.judge_many(items)
            took = time.monotonic() - start
            killer.join()
            assert [v.status for v in verdicts] == _expected(16)  # all there, in order, none lost
            assert took < 60  # not held up by the replacement, which cannot be placed
            assert sum(1 for a in s._pool() if a.live) == 1  # and the replacement, pending or given up
        finally:
            s.close()
            for n in nodes[:1]:
                cluster.remove_node(n)

    def test_with_every_actor_lost_the_batch_ends_with_infra_errors(self, cluster):
        nodes = _node_pair(cluster)
        s = RayScorer(actors=2, workers_per_actor=1, chunk=2, place_timeout=30, spread=True)
        try:
            assert [v.status for v in s.judge_many(_items(s, 4))] == _expected(4)
            s.place_timeout = 3  # for the replacements, which can never be placed: no node is left
            items = _items(s, 16)
            killer = _remove_later(cluster, nodes, 1.0)
            start = time.monotonic()
            verdicts = s.judge_many(items)
            took = time.monotonic() - start
            killer.join()
            assert len(verdicts) == 16 and took < 60
            lost = [v for v in verdicts if v.status is Status.INFRA_ERROR]
            assert lost, "the nodes died before any chunk was lost"
            for v, want in zip(verdicts, _expected(16)):
                assert v.status in (want, Status.INFRA_ERROR)  # never a score against the program
            for v in lost:
                assert isinstance(v.failure, EvaluatorFailed) and "no Ray actor was left" in v.failure.message
            assert "an actor was lost" in lost[-1].failure.message  # the reason, not only the outcome
            # the next batch asks for actors again, and gives up on them in place_timeout
            start = time.monotonic()
            again = s.judge_many(items[:3])
            assert time.monotonic() - start < 3 + 10
            assert all(v.status is Status.INFRA_ERROR for v in again)
            assert "no Ray actor was left" in again[0].failure.message
        finally:
            s.close()

    def test_a_stuck_actor_is_killed_and_its_chunk_ends_as_infra_error(self, cluster):
        node = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        # every chunk takes longer than chunk_timeout: the actor looks stuck each time
        s = RayScorer(actors=1, workers_per_actor=1, chunk=2, retries=1, place_timeout=20, chunk_timeout=0.2)
        try:
            first = s.actors[0]
            start = time.monotonic()
            verdicts = s.judge_many(_items(s, 2))
            assert time.monotonic() - start < 30
            assert [v.status for v in verdicts] == [Status.INFRA_ERROR] * 2
            assert "lost 2 times" in verdicts[0].failure.message and "stuck" in verdicts[0].failure.message
            assert verdicts[0].attempts == 2 and first not in s.actors
        finally:
            s.close()
            cluster.remove_node(node)
