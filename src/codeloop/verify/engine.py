"""The one judge every caller uses: a program and a task in, a verdict out.

``codeloop eval``, the trainer adapters, the HTTP service and Ray actors all
go through :class:`Judge`: it picks the time limits (one
:class:`~codeloop.verify.limits.TimeLimits` table per task content key),
builds the sandbox job, retries evaluator failures on a fresh worker,
assembles the verdict, meters the cost of a passing program, and checks the
task's code instructions. Nothing here blocks a sandbox dispatcher: slow
follow-ups (valgrind, ruff) run on the judge's own threads.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any, Sequence

from ..extract import has_code
from ..compare import prepare_seconds
from ..sandbox.headers import precompiled
from ..sandbox.languages import availability, language
from ..sandbox.limits import Limits
from ..sandbox.pool import InfraError, Outcome, SandboxPool
from ..sandbox.protocol import CallJob, CallReport, JudgeOnlyJob
from ..types import (IN_PROCESS, Cost, InstructionResult, NoCode, Status, Task, TaskKind, Verdict,
                     evaluator_failure)
from .assemble import BrokenTaskResult, assemble
from .binaries import CompiledPrograms, program_key
from .budget import provisional
from .efficiency import METHOD, CostMeter, Unmeasurable
from .in_process import in_process_program, in_process_task, in_process_verdict
from .judge import CALIBRATION_CPU
from .limits import Budgets, TimeLimits, TimePolicy
from .protocol import JudgeJob, TestsWire

GUARD_MARGIN = 2.0
STDIO_CALIBRATION_LIMIT = 20.0
FILENAME = "solution.py"


def judge_tests(task: Task) -> TestsWire:
    """A task's tests as the judge process receives them."""
    return {"key": task.key, "kind": task.kind.value, "prompt": task.prompt, "test": task.test,
            "asserts": list(task.asserts), "setup": task.setup,
            "cases": [{"input": c.input, "output": c.output} for c in task.cases],
            "entry_point": task.entry_point or "main", "reference": task.reference,
            "compare": dict(task.compare) if task.compare is not None else None,
            "time_limit_per_test": task.time_limit_per_test, "stop_on_failure": task.stop_on_failure,
            "tests_in_one_process": task.tests_in_one_process, "probes": task.probes}


def fixed_judge_job(task: Task, wall: float, load_limit: float = 5.0, max_output: int = 1 << 20) -> JudgeJob:
    """The judge's job for ``task`` with a fixed wall limit (no calibration): for a candidate that is not a
    fresh sample, such as an interactive session's kernel at the end of its episode."""
    return {"tests": judge_tests(task), "budgets": Budgets(wall, source="fixed").to_wire(), "provisional": None,
            "policy": None, "load_limit": load_limit, "max_output": max_output, "record_calls": False,
            "program": None}


class Judge:
    """Judges programs against tasks on a sandbox pool. Thread-safe.

    ``limits``: the time-limit table (default: one with the default
    :class:`TimePolicy`); share it to share calibrations. ``load_limit``:
    seconds a program may take to load. ``memory_mb``: address-space limit.
    ``output_bytes``: what a program may print (stdout and stderr together)
    before it is stopped. ``retries``: fresh workers tried after an evaluator
    failure before the verdict is ``infra_error``. ``efficiency``: count the
    cost of passing programs (valgrind; slow).
    """

    def __init__(self, pool: SandboxPool, limits: TimeLimits | None = None, *, load_limit: float = 1.0,
                 memory_mb: int = 1024, output_bytes: int = 1 << 20, retries: int = 2,
                 efficiency: bool = False) -> None:
        self.pool = pool
        self.limits = limits or TimeLimits()
        self.load_limit, self.memory_mb, self.retries = load_limit, memory_mb, retries
        self.output_bytes = output_bytes
        self.meter = CostMeter(pool) if efficiency else None
        self._follow_up = ThreadPoolExecutor(max_workers=max(2, pool.size), thread_name_prefix="codeloop-judge")
        self._tests: dict[str, tuple[TestsWire, bytes]] = {}
        self._stdio_timing: dict[str, Future[Budgets]] = {}
        self._toolchains: dict[str, str | None] = {"python": None}
        self._versions: dict[str, str] = {}
        self._headers: dict[str, str | None] = {}  # a language's folder of precompiled headers
        self.compiled = CompiledPrograms()  # programs in compiled languages, by source: each compiles once
        self._compiling: dict[str, Future[Verdict | None]] = {}  # a compile in flight, by program key
        self.compile_jobs = 0  # programs compiled on their own before their samples (one per new source)
        self._lock = threading.Lock()

    @property
    def isolation(self) -> Any:
        return self.pool.isolation

    @property
    def policy(self) -> TimePolicy:
        return self.limits.policy

    # -- the public side -----------------------------------------------------
    def submit(self, task: Task, program: str, code: str | None = None) -> Future[Verdict]:
        """Judge ``program`` (complete source) against ``task`` in the
        background. ``code`` is what the model wrote when ``program`` adds a
        prompt to it: with no code in it the status is ``no_code``, and the
        instructions are checked on its lines only. Cancel the future to drop
        a sample that has not started. The verdict never raises for anything
        the program does; an evaluator failure that persists after the
        retries is status ``infra_error``."""
        if task.integrity == IN_PROCESS:
            return self._in_process(task, program, code)
        out: Future[Verdict] = Future()
        if not has_code(program if code is None else code):
            out.set_result(Verdict(status=Status.NO_CODE, failure=NoCode(), isolation=self.isolation, attempts=0))
            return out
        missing = self._toolchain_missing(task.language)
        if missing is not None:
            out.set_result(evaluator_failure(missing, self.isolation, attempts=0))
            return out
        holder: list[Future[Any]] = []
        out.add_done_callback(lambda f: [inner.cancel() for inner in holder] if f.cancelled() else None)
        if language(task.language).compiled and self.compiled.get(self._program_key(task, program)) is None:
            self._after_compiling(out, holder, task, program, code)
        else:
            self._begin(out, holder, task, program, code)
        return out

    def _in_process(self, task: Task, program: str, code: str | None) -> Future[Verdict]:
        """The in-process mode (verify/in_process.py): the tests appended to the program, run in its process;
        the verdict is read from the tests' report, and says so."""
        out: Future[Verdict] = Future()
        try:
            inner = self.submit(in_process_task(task), in_process_program(task, program),
                                program if code is None else code)
        except ValueError as exc:
            out.set_result(evaluator_failure(f"task {task.task_id}: {exc}", self.isolation, broken_task=True))
            return out

        def done(f: Future[Verdict]) -> None:
            if f.cancelled():
                out.cancel()
            elif f.exception() is not None:
                out.set_exception(f.exception())
            else:
                out.set_result(in_process_verdict(f.result()))

        inner.add_done_callback(done)
        out.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return out

    def _begin(self, out: Future[Verdict], holder: list[Future[Any]], task: Task, program: str,
               code: str | None) -> None:
        if task.kind is TaskKind.STDIO and self.limits.known(task) is None:
            holder.append(self._follow_up.submit(self._after_stdio_timing, out, holder, task, program, code))
        else:
            self._start(out, holder, task, program, code, 1)

    def _after_compiling(self, out: Future[Verdict], holder: list[Future[Any]], task: Task, program: str,
                         code: str | None) -> None:
        """A program in a compiled language not compiled yet: compile it once (a sample with no tests), then
        judge this and every copy submitted meanwhile with the compiled program, or with its compile error."""
        key = self._program_key(task, program)
        with self._lock:
            pending = self._compiling.get(key)
            mine = pending is None
            if pending is None:
                pending = self._compiling[key] = Future()
                self.compile_jobs += 1

        def go(done: Future[Verdict | None]) -> None:
            failed = done.result()
            if failed is not None:
                _settle(out, failed)  # the same source, the same compile error
            elif not out.done():
                self._begin(out, holder, task, program, code)

        pending.add_done_callback(go)
        if not mine:
            return
        compile_only = replace(task, cases=())
        job, judge_job = self._jobs(compile_only, program, Budgets(1.0, source="fixed"))

        def compiled(inner: Future[Outcome]) -> None:
            verdict: Verdict | None = None
            try:
                report, result = inner.result()
                if isinstance(result, dict) and type(result.get("compiled")) is str:
                    load = result.get("load")
                    self.compiled.put(key, result["compiled"], load if isinstance(load, (int, float)) else None)
                elif isinstance(result, dict) and result.get("status") == Status.SYNTAX_ERROR.value:
                    verdict = assemble(report, result, isolation=self.isolation,  # type: ignore[arg-type]
                                       memory_mb=self.memory_of(task), time_limit=None)
            except Exception:  # noqa: BLE001 - the samples then compile for themselves
                verdict = None
            with self._lock:
                self._compiling.pop(key, None)
            pending.set_result(verdict)

        try:
            self.pool.submit(job, self._encoded_job(compile_only, judge_job)).add_done_callback(compiled)
        except Exception:  # noqa: BLE001 - the pool is closed or full: the samples compile for themselves
            with self._lock:
                self._compiling.pop(key, None)
            pending.set_result(None)

    def _toolchain_missing(self, name: str) -> str | None:
        """Why programs in language ``name`` cannot be judged here (None: they can); asked once per language."""
        if name not in self._toolchains:
            usable, detail = availability(language(name))
            self._toolchains[name] = None if usable else f"no {name} toolchain here: {detail}"
            self._versions[name] = detail
            if usable:
                self._headers[name] = precompiled(language(name), detail)  # built once per machine
        return self._toolchains[name]

    def compile_seconds(self, task: Task, program: str) -> float | None:
        """Seconds ``program`` took to compile for ``task`` (its compiled program kept), or None if not known."""
        return self.compiled.compile_seconds(self._program_key(task, program))

    def _program_key(self, task: Task, program: str) -> str:
        lang = language(task.language)
        return program_key(lang, self._versions.get(lang.name, ""), program, task.files)

    def memory_of(self, task: Task) -> int:
        """The memory limit (MiB) a sample of ``task`` runs with: the task's own, else the judge's."""
        return task.memory_limit if task.memory_limit is not None else self.memory_mb

    def worst_case_seconds(self, task: Task) -> float:
        """The longest one sample of ``task`` may hold a worker: load, tests and margin (for admission)."""
        budgets = self.limits.known(task)
        wall = budgets.wall if budgets is not None else self.policy.max  # not calibrated yet: the policy's cap
        if budgets is None and task.kind is TaskKind.STDIO:
            wall += STDIO_CALIBRATION_LIMIT  # its reference runs first, as a program, to time it
        return self.load_limit_of(task) + wall + GUARD_MARGIN

    def load_limit_of(self, task: Task) -> float:
        """Seconds a sample of ``task`` may take to load: the judge's, or for a compiled language (or one
        whose syntax is checked first) the compiler's wall limit (twice its CPU limit and a second) and a second
        more, if longer."""
        lang = language(task.language)
        seconds = task.compile_time_limit if task.compile_time_limit is not None else lang.compile_seconds
        checked = lang.compiled or lang.check is not None
        return max(self.load_limit, seconds * 2 + 2) if checked else self.load_limit

    def judge(self, task: Task, program: str, code: str | None = None) -> Verdict:
        """:meth:`submit` and wait."""
        return self.submit(task, program, code).result()

    def judge_many(self, items: Sequence[tuple[Task, str]]) -> list[Verdict]:
        """Judge (task, program) pairs concurrently; verdicts in order."""
        return [f.result() for f in [self.submit(t, p) for t, p in items]]

    def time_reference(self, task: Task) -> Budgets:
        """Time ``task``'s reference now, in the judge (trusted code, no
        candidate), and keep the budgets that follow. For check and asserts tasks."""
        if task.kind is TaskKind.STDIO:
            raise ValueError("stdin tasks are timed by running their reference as a program")
        known = self.limits.known(task)
        if known is not None:
            return known
        job: JudgeOnlyJob = {"kind": "judge_only", "guard": CALIBRATION_CPU * 2 + GUARD_MARGIN}
        judge_job: JudgeJob = {"tests": self._tests_of(task)[0], "budgets": None, "provisional": None,
                               "policy": self.policy.to_wire(), "load_limit": self.load_limit, "max_output": 0,
                               "record_calls": False, "program": None}
        for _ in range(self.retries + 1):
            try:
                _, result = self.pool.run(job, judge_job)
            except InfraError:
                continue
            if result and "calibration" in result:
                return self.limits.learn(task, result["calibration"])
        return Budgets(self.policy.default, source="default", reference_status="infra_error")

    def close(self) -> None:
        """Stop the follow-up threads (the pool is the caller's to close)."""
        self._follow_up.shutdown(wait=False, cancel_futures=True)

    # -- one sample ----------------------------------------------------------
    def _tests_of(self, task: Task) -> tuple[TestsWire, bytes]:
        """The task's tests for the judge and their JSON, built once per task:
        every sample of a task sends the same tests (the cache is bounded)."""
        key = task.key
        cached = self._tests.get(key)
        if cached is None:
            tests = judge_tests(task)
            cached = (tests, json.dumps(tests, separators=(",", ":")).encode())
            with self._lock:
                if len(self._tests) > 4096:
                    self._tests.clear()
                self._tests[key] = cached
        return cached

    def _encoded_job(self, task: Task, judge_job: JudgeJob) -> bytes:
        """The judge's job as JSON, its tests encoded once per task."""
        rest = {k: v for k, v in judge_job.items() if k != "tests"}
        return b'{"tests":' + self._tests_of(task)[1] + b"," + json.dumps(rest, separators=(",", ":")).encode()[1:]

    def _jobs(self, task: Task, program: str, budgets: Budgets | None) -> tuple[CallJob, JudgeJob]:
        policy = self.policy
        if budgets is not None:
            wall, guard_wall = budgets.wall, budgets.wall
        else:
            wall, guard_wall = policy.max, policy.max + CALIBRATION_CPU
        load_limit = self.load_limit_of(task)
        lang = language(task.language)
        limits = Limits(time_limit=wall, load_limit=load_limit, memory_mb=self.memory_of(task),
                        output_bytes=self.output_bytes)
        job: CallJob = {"kind": "call", "program": program, "filename": FILENAME,
                        "as_main": task.kind is TaskKind.STDIO, "limits": limits.to_wire(),
                        "guard": load_limit + guard_wall + GUARD_MARGIN + prepare_seconds(task.compare),
                        "language": lang.name,
                        "compile_seconds": task.compile_time_limit,
                        "files": dict(task.files) if task.files else None,
                        "binary": self.compiled.get(self._program_key(task, program)) if lang.compiled else None,
                        "include": self._headers.get(lang.name)}
        judge_job: JudgeJob = {
            "tests": self._tests_of(task)[0], "budgets": budgets.to_wire() if budgets is not None else None,
            "provisional": provisional(policy.to_wire()) if budgets is None else None,
            "policy": policy.to_wire() if budgets is None else None, "load_limit": load_limit,
            "max_output": limits.output_bytes, "record_calls": self.meter is not None, "program": None}
        return job, judge_job

    def _start(self, out: Future[Verdict], holder: list[Future[Any]], task: Task, program: str, code: str | None,
               attempt: int) -> None:
        if out.done():
            return
        budgets = self.limits.known(task)
        job, judge_job = self._jobs(task, program, budgets)
        try:
            inner = self.pool.submit(job, self._encoded_job(task, judge_job))
        except InfraError as exc:
            _settle(out, evaluator_failure(str(exc), self.isolation, attempts=attempt))
            return
        holder[:] = [inner]
        inner.add_done_callback(lambda f: self._finish(out, holder, f, task, program, code, attempt, budgets))

    def _finish(self, out: Future[Verdict], holder: list[Future[Any]], inner: Future[Outcome], task: Task,
                program: str, code: str | None, attempt: int, budgets: Budgets | None) -> None:
        # A done-callback that raises is only logged: the caller would wait for ever. Whatever goes
        # wrong here is this sample's evaluator failure, never its batch's.
        try:
            self._finish_unguarded(out, holder, inner, task, program, code, attempt, budgets)
        except Exception as exc:  # noqa: BLE001
            _settle(out, evaluator_failure(f"the evaluator failed: {type(exc).__name__}: {exc}"[:500],
                                           self.isolation, attempts=attempt))

    def _finish_unguarded(self, out: Future[Verdict], holder: list[Future[Any]], inner: Future[Outcome],
                          task: Task, program: str, code: str | None, attempt: int, budgets: Budgets | None) -> None:
        if out.done():
            return
        try:
            report, result = inner.result()
            if isinstance(result, dict) and "judge_crashed" in result:
                raise InfraError(f"the judge crashed: {result['judge_crashed']}")
        except CancelledError:
            out.cancel()
            return
        except InfraError as exc:
            if attempt <= self.retries:
                self._start(out, holder, task, program, code, attempt + 1)
            else:
                _settle(out, evaluator_failure(str(exc), self.isolation, attempts=attempt))
            return
        if isinstance(result, dict) and "calibration" in result:
            self.limits.learn(task, result["calibration"])
        if isinstance(result, dict) and type(result.get("compiled")) is str and language(task.language).compiled:
            self.compiled.put(self._program_key(task, program), result["compiled"])
        call_report: CallReport = report  # type: ignore[assignment]
        try:
            verdict = assemble(call_report, result, isolation=self.isolation, memory_mb=self.memory_of(task),
                               time_limit=budgets.wall if budgets is not None else None, attempts=attempt)
        except BrokenTaskResult as exc:
            _settle(out, evaluator_failure(f"task error: {exc}", self.isolation, broken_task=True, attempts=attempt))
            return
        except (ValueError, KeyError, TypeError) as exc:
            _settle(out, evaluator_failure(f"the judge's answer is not readable: {exc}", self.isolation,
                                           attempts=attempt))
            return
        call_log = result.get("call_log") if verdict.passed and isinstance(result, dict) else None
        wants_cost = self.meter is not None and verdict.passed and call_log is not None
        wants_instructions = bool(task.instructions) and verdict.status is not Status.INFRA_ERROR
        if wants_cost or wants_instructions:
            self._follow_up.submit(self._follow_through, out, verdict, task, program, code,
                                   call_log if wants_cost else None)
        else:
            _settle(out, verdict)

    def _follow_through(self, out: Future[Verdict], verdict: Verdict, task: Task, program: str, code: str | None,
                        call_log: list[Any] | None) -> None:
        """The slow parts: the cost of a passing program, then the instructions."""
        try:
            if call_log is not None and self.meter is not None:
                try:
                    verdict = verdict.with_(cost=self.meter.cost(task, program, call_log))
                except Unmeasurable as exc:
                    verdict = verdict.with_(cost=Cost(METHOD, error=str(exc)))
            if task.instructions:
                from ..instructions import check_instructions  # ruff and the registry: only when a task has some

                first_line = program.count("\n", 0, len(program) - len(code)) \
                    if code is not None and program.endswith(code) else 0
                checked = check_instructions(program, [dict(i) for i in task.instructions], first_line=first_line)
                verdict = verdict.with_(instructions=tuple(InstructionResult.from_dict(r) for r in checked))
            _settle(out, verdict)
        except Exception as exc:  # noqa: BLE001 - the caller must get an answer, never a hang
            _settle(out, evaluator_failure(f"checking the sample failed: {type(exc).__name__}: {exc}"[:500],
                                           self.isolation))

    def _after_stdio_timing(self, out: Future[Verdict], holder: list[Future[Any]], task: Task, program: str,
                            code: str | None) -> None:
        """A stdin task never timed: run its reference as a program first (once per task)."""
        with self._lock:
            timing = self._stdio_timing.get(task.key)
            mine = timing is None
            if timing is None:
                timing = self._stdio_timing[task.key] = Future()
        if mine:
            try:
                timing.set_result(self._time_stdio_reference(task))
            except BaseException as exc:  # noqa: BLE001 - every waiter must learn it
                timing.set_exception(exc)
        try:
            timing.exception()  # waits for whoever times the task; if that failed, the defaults apply
            self._start(out, holder, task, program, code, 1)  # with the limits learnt, or the defaults
        except Exception as exc:  # noqa: BLE001 - runs on an executor: a raise here would be lost
            _settle(out, evaluator_failure(f"the evaluator failed: {type(exc).__name__}: {exc}"[:500],
                                           self.isolation))

    def _time_stdio_reference(self, task: Task) -> Budgets:
        assert task.reference is not None
        fixed = Budgets(STDIO_CALIBRATION_LIMIT, source="fixed")
        job, judge_job = self._jobs(task, task.reference, fixed)
        verdict = None
        for _ in range(self.retries + 1):
            try:
                report, result = self.pool.run(job, judge_job)
                verdict = assemble(report, result, isolation=self.isolation,  # type: ignore[arg-type]
                                   memory_mb=self.memory_of(task), time_limit=STDIO_CALIBRATION_LIMIT)
                break
            except (InfraError, BrokenTaskResult, ValueError, KeyError, TypeError):
                continue
        if verdict is None:
            return self.limits.learn_from_run(task, False, None, "infra_error")
        return self.limits.learn_from_run(task, verdict.passed, verdict.test_seconds, verdict.status.value)


def _settle(out: Future[Verdict], verdict: Verdict) -> None:
    if not out.done():
        try:
            out.set_result(verdict)
        except Exception:  # noqa: BLE001 - cancelled meanwhile
            pass
