"""A client for ``codeloop serve`` (sync and async), and a scorer that uses it.

    from codeloop.service.client import Client
    c = Client("http://127.0.0.1:8080", token="...")
    results = c.verify([{"task_id": "HumanEval/35", "code": "def max_element(l): return max(l)"}],
                       rewards=["coderl"], feedback=["first_failure"])

A 429 answer (the server's pool is saturated) is retried after its
Retry-After; other errors raise :class:`ServiceError` with the server's
message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ..integrations.scoring import inline_task
from ..types import Verdict


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
    """Synchronous client. ``retries`` bounds 429 retries per call."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0, retries: int = 20) -> None:
        self.url, self.retries = url.rstrip("/"), retries
        self._http = httpx.Client(timeout=timeout, headers=_headers(token))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for _ in range(self.retries + 1):
            r = self._http.post(self.url + path, json=body)
            if r.status_code != 429:
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
            if r.status_code != 429:
                break
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        return _check(r)["results"]

    async def aclose(self) -> None:
        await self._http.aclose()


class RemoteScorer:
    """What the trainer adapters need of a scorer, done by a remote server.

    Tasks are resolved by the server: :meth:`task_for` only keeps the row."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.client = Client(url, token)
        self.url, self.token = url, token

    def task_for(self, row: dict[str, Any]) -> dict[str, Any]:
        task = {k: v for k, v in row.items() if k not in ("task_id", "task")}
        item: dict[str, Any] = {"task_id": row.get("task_id")} if row.get("task_id") is not None else {}
        inline = inline_task(row)
        if inline is not None:
            item["task"] = inline
        elif {"test", "asserts", "cases"} & task.keys():
            item["task"] = {k: v for k, v in task.items() if isinstance(v, (str, list, dict, int, float))}
        return item

    def judge_many(self, items: list[tuple[dict[str, Any], str]]) -> list[Verdict]:
        results = self.client.verify([{**task, "code": reply} for task, reply in items])
        return [Verdict.from_dict(r["verdict"]) for r in results]

    async def ajudge_many(self, items: list[tuple[dict[str, Any], str]]) -> list[Verdict]:
        c = AsyncClient(self.url, self.token)
        try:
            results = await c.verify([{**task, "code": reply} for task, reply in items])
        finally:
            await c.aclose()
        return [Verdict.from_dict(r["verdict"]) for r in results]

    def close(self) -> None:
        self.client.close()
