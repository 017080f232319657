"""pass@k with the unbiased estimator of Chen et al. (2021)."""

from __future__ import annotations

from collections.abc import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement
    from n (of which c are correct) is correct. Requires 0 <= c <= n and k <= n."""
    if not 0 <= c <= n or not 0 < k <= n:
        raise ValueError(f"need 0 <= c <= n and 0 < k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(k):  # C(n-c, k) / C(n, k) as a product, without huge integers
        miss *= (n - c - i) / (n - i)
    return 1.0 - miss


def pass_at_ks(per_task: Iterable[tuple[int, int]], ks: Iterable[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean pass@k over tasks, given (n, c) per task, for each k that every task allows."""
    per_task = list(per_task)
    if not per_task:
        return {}
    fewest = min(n for n, _ in per_task)
    return {f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in per_task) / len(per_task)
            for k in ks if 0 < k <= fewest}
