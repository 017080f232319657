"""pass@k: the unbiased estimator against brute-force enumeration."""

import itertools
from fractions import Fraction

import pytest

from codeloop.evaluate.passk import pass_at_k, pass_at_ks


def brute(n: int, c: int, k: int) -> Fraction:
    """Fraction of all k-subsets of n samples (c correct) holding a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n, c, k", [(n, c, k) for n in range(1, 9) for c in range(n + 1) for k in range(1, n + 1)])
def test_matches_enumeration(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(brute(n, c, k)), abs=1e-12)


def test_known_values_and_large_n():
    assert pass_at_k(200, 0, 100) == 0.0
    assert pass_at_k(200, 200, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert 0 < pass_at_k(1000, 1, 10) < 0.011


def test_bad_arguments():
    for args in [(3, 4, 1), (3, 1, 4), (3, 1, 0), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*args)


def test_mean_over_tasks_and_which_ks_are_reported():
    result = pass_at_ks([(10, 5), (10, 0), (20, 20)], ks=(1, 10, 100))
    assert set(result) == {"pass@1", "pass@10"}  # 100 > the fewest samples of a task
    assert result["pass@1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert result["pass@10"] == pytest.approx((1 + 0 + 1) / 3)
    assert pass_at_ks([]) == {}
