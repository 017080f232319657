"""A client for ``codeloop serve`` (sync and async), and a scorer that uses it.

    from codeloop.service.client import Client
    c = Client("http://127.0.0.1:8080", token="...")
    results = c.verify([{"task_id": "HumanEval/35", "code": "def max_element(l): return max(l)"}],
                       rewards=["coderl"], feedback=["first_failure"])

A 429 or 504 answer (the server's pool is saturated, or the request could
not start in time) is retried after its Retry-After; other errors raise :class:`ServiceError` with the server's
message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Sequence

import httpx

from ..scoring import Row
from ..tasks import load_benchmark
from ..tasks.rows import resolve_row
from ..types import Task, Verdict


RETRIED = (429, 504)  # answers that say "later", with a Retry-After


class ServiceError(RuntimeError):
    """The server answered with an error (status and message in the text)."""


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _check(r: httpx.Response) -> dict[str, Any]:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text[:500]
        raise ServiceError(f"{r.status_code}: {detail}")
    return r.json()


class Client:
    """Synchronous client. ``retries`` bounds 429/504 retries per call."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0, retries: int = 20) -> None:
        self.url, self.retries = url.rstrip("/"), retries
        self._http = httpx.Client(timeout=timeout, headers=_headers(token))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for _ in range(self.retries + 1):
            r = self._http.post(self.url + path, json=body)
            if r.status_code not in RETRIED:
                return _check(r)
            time.sleep(float(r.headers.get("Retry-After", "1")))
        return _check(r)

    def verify(self, items: list[dict[str, Any]], feedback: list[str] | None = None,
               rewards: list[str] | None = None, hidden: bool = True) -> list[dict[str, Any]]:
        """One result per item: status, passed, verdict, feedback texts, rewards."""
        body = {"items": items, "feedback": feedback or [], "rewards": rewards or [], "hidden": hidden}
        return self._post("/v1/verify", body)["results"]

    def run_code(self, code: str, stdin: str = "", run_timeout: float = 10.0) -> dict[str, Any]:
        return self._post("/run_code", {"code": code, "stdin": stdin, "run_timeout": run_timeout})

    def close(self) -> None:
        self._http.close()


class AsyncClient:
    """The same, for asyncio."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0, retries: int = 20) -> None:
        self.url, self.retries = url.rstrip("/"), retries
        self._http = httpx.AsyncClient(timeout=timeout, headers=_headers(token))

    async def verify(self, items: list[dict[str, Any]], feedback: list[str] | None = None,
                     rewards: list[str] | None = None, hidden: bool = True) -> list[dict[str, Any]]:
        body = {"items": items, "feedback": feedback or [], "rewards": rewards or [], "hidden": hidden}
        for _ in range(self.retries + 1):
            r = await self._http.post(self.url + "/v1/verify", json=body)
            if r.status_code not in RETRIED:
                break
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        return _check(r)["results"]

    async def aclose(self) -> None:
        await self._http.aclose()


class RemoteScorer:
    """A scorer whose work a ``codeloop serve`` does.

    Rows are resolved here, against ``tasks`` (default: HumanEval), and each
    task travels inline with its sample, so the server needs no task table
    and times each task by its content key, as a local scorer would.
    ``workers`` is only a hint for callers that size batches.
    """

    def __init__(self, url: str, token: str | None = None, tasks: dict[str, Task] | None = None,
                 workers: int = 8) -> None:
        self.client = Client(url, token)
        self.url, self.token, self.workers = url, token, workers
        self.tasks = tasks if tasks is not None else load_benchmark("humaneval")

    def resolve(self, row: Row) -> Task:
        return resolve_row(self.tasks, row)

    @staticmethod
    def _items(items: Sequence[tuple[Task, str]]) -> list[dict[str, Any]]:
        return [{"task": task.to_record(), "code": reply} for task, reply in items]

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        results = self.client.verify(self._items(items))
        return [Verdict.from_dict(r["verdict"]) for r in results]

    async def ajudge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        c = AsyncClient(self.url, self.token)
        try:
            results = await c.verify(self._items(items))
        finally:
            await c.aclose()
        return [Verdict.from_dict(r["verdict"]) for r in results]

    def close(self) -> None:
        self.client.close()
