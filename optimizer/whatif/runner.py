"""Running scenarios: serially, in worker processes, or on Dask distributed; results identical.

Each scenario becomes a `ScenarioTask` holding only plain data (the edited problem document, the
solve options), so it can be shipped to any worker. `run_scenario` validates the document through
the loader, solves it and returns a `ScenarioOutcome`; it never raises: a scenario that is invalid,
infeasible or fails is reported in its row (`status` and `error`) and the sweep goes on.

Executors:

- `serial`: in this process, one after another;
- `process`: a `concurrent.futures.ProcessPoolExecutor` with `jobs` workers (forkserver start);
- `dask`: `distributed.Client` on `scheduler` (an address), or on a local cluster of `jobs` worker
  processes started for the sweep. Needs the optional extra: `pip install 'fleet-optimizer[distributed]'`.

The order of results is the order of the scenarios, whatever order they finish in.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from optimizer.candidates import EvaluationCache
from optimizer.errors import ExitCode, InfeasibleError, InputError, OptimizerError
from optimizer.pipeline import SolveOptions, solve_loaded
from optimizer.whatif.overrides import ProblemSource, validate_document
from optimizer.whatif.summary import plan_row

ExecutorName = Literal["serial", "process", "dask"]
EXECUTORS: tuple[str, ...] = ("serial", "process", "dask")
TIMING_COLUMNS: tuple[str, ...] = ("wall_s",)
"""Columns that measure time and so differ from run to run (everything else is reproducible)."""


@dataclass(frozen=True)
class ScenarioTask:
    """Everything a worker needs to solve one scenario (plain, picklable data)."""

    index: int
    name: str
    data: Mapping[str, Any]
    """The problem document with the scenario's overrides applied (schema-valid in structure)."""
    filename: str
    base_dir: str
    options: SolveOptions
    keep_plan: bool = False
    edited: bool = True
    catalog_dirs: tuple[str, ...] = ()
    """Extra folders the problem's catalog files may lie in."""
    sweep_id: str = ""
    """Scenarios of one sweep share a performance-model cache in each worker (empty: no cache)."""


@dataclass(frozen=True)
class ScenarioOutcome:
    index: int
    name: str
    figures: dict[str, Any]
    """`plan_row` figures, or `status` (`invalid_input`, `infeasible`, `error`) and `error`."""
    wall_s: float
    plan: dict[str, Any] | None = None
    """The plan as JSON data when the task asked to keep it."""

    @property
    def ok(self) -> bool:
        return self.figures.get("status") in ("optimal", "feasible")


def _first_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[:n]) + (f" (+{len(lines) - n} more)" if len(lines) > n else "")


_CACHES: dict[tuple[str, int], EvaluationCache] = {}
"""Performance-model caches of this process: one per (sweep, thread), only for the latest sweep."""


def sweep_cache(sweep_id: str) -> EvaluationCache | None:
    """The cache the scenarios of `sweep_id` share in this process and thread (None: no sweep id).

    Scenarios that change only prices or demand find every performance-model result in it (a latency
    target change computes only the new budgets); a new sweep drops the caches of earlier ones, so a
    long-lived (Dask) worker does not grow without bound. Per thread, so multi-threaded workers never
    share one."""
    if not sweep_id:
        return None
    key = (sweep_id, threading.get_ident())
    cache = _CACHES.get(key)
    if cache is None:
        for old in [k for k in _CACHES if k[0] != sweep_id]:
            del _CACHES[old]
        cache = _CACHES[key] = EvaluationCache()
    return cache


def run_scenario(task: ScenarioTask) -> ScenarioOutcome:
    """Validate and solve one scenario; every failure becomes a status and a message, never an exception."""
    t0 = time.perf_counter()
    plan_data: dict[str, Any] | None = None
    try:
        source = ProblemSource(
            data=task.data,
            filename=task.filename,
            base_dir=Path(task.base_dir),
            catalog_dirs=task.catalog_dirs,
        )
        loaded = validate_document(source, task.data, edited=task.edited)
        result = solve_loaded(loaded, task.options, cache=sweep_cache(task.sweep_id))
        figures: dict[str, Any] = plan_row(result.plan)
        if task.keep_plan:
            plan_data = result.plan.model_dump(mode="json")
    except InputError as exc:
        figures = {"status": "invalid_input", "error": _first_lines(str(exc))}
    except InfeasibleError as exc:
        figures = {"status": "infeasible", "error": _first_lines(str(exc))}
    except OptimizerError as exc:
        figures = {"status": "error", "error": _first_lines(str(exc))}
    except Exception as exc:  # a bug in one scenario must not abort the sweep
        figures = {"status": "error", "error": f"internal error: {type(exc).__name__}: {exc}"}
    return ScenarioOutcome(task.index, task.name, figures, round(time.perf_counter() - t0, 3), plan_data)


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class ExecutorInfo:
    name: str
    workers: int
    address: str | None = None
    notes: list[str] = field(default_factory=list)


Callback = Callable[[ScenarioOutcome], None]


def _serial(tasks: Sequence[ScenarioTask], done: Callback) -> Iterator[ScenarioOutcome]:
    for task in tasks:
        outcome = run_scenario(task)
        done(outcome)
        yield outcome


PARENT_POLL_S = 0.5
"""How often a worker process checks that the sweep that started it is still there, seconds."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a pid reused by another user's process
        return False
    return True


def _watch_sweep(sweep_pid: int) -> None:
    while _alive(sweep_pid):
        time.sleep(PARENT_POLL_S)
    os._exit(int(ExitCode.INTERRUPTED))


def worker_init(sweep_pid: int) -> None:
    """Set up a worker process: Ctrl-C (sent to the whole process group) ends it at once, even inside
    the solver's native code; and it ends within `PARENT_POLL_S` once the sweep process is gone (the
    CLI exits at once on Ctrl-C; a worker must not go on solving for nobody). Workers come from the
    forkserver, so their parent is not the sweep: it is watched by pid."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    threading.Thread(target=_watch_sweep, args=(sweep_pid,), name="sweep-watch", daemon=True).start()


def _process(tasks: Sequence[ScenarioTask], jobs: int, done: Callback) -> Iterator[ScenarioOutcome]:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["optimizer.whatif.runner"])
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=worker_init, initargs=(os.getpid(),)
    ) as pool:
        futures = [pool.submit(run_scenario, t) for t in tasks]
        for fut in as_completed(futures):
            outcome = fut.result()
            done(outcome)
            yield outcome


@contextmanager
def dask_client(scheduler: str | None, jobs: int) -> Iterator[tuple[Any, ExecutorInfo]]:
    """A `distributed.Client`: on `scheduler`, or on a local cluster of `jobs` single-threaded workers."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "--executor dask needs Dask distributed: pip install 'fleet-optimizer[distributed]'"
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None
        try:
            workers = len(client.scheduler_info().get("workers", {}))
            yield client, ExecutorInfo("dask", workers, scheduler)
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            yield client, ExecutorInfo("dask", jobs, None, ["local cluster started for this sweep"])
        finally:
            client.close()
    finally:
        cluster.close()


def _dask(tasks: Sequence[ScenarioTask], client: Any, done: Callback) -> Iterator[ScenarioOutcome]:
    from distributed import as_completed as dask_completed

    futures = client.map(run_scenario, list(tasks), pure=False)
    for fut in dask_completed(futures):
        outcome = fut.result()
        done(outcome)
        yield outcome


def execute(
    tasks: Sequence[ScenarioTask],
    executor: ExecutorName = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
    done: Callback | None = None,
) -> tuple[list[ScenarioOutcome], ExecutorInfo]:
    """Run every task; return outcomes in task order and what ran them."""
    callback: Callback = done or (lambda _o: None)
    n = jobs or default_jobs()
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if executor == "dask":
        with dask_client(scheduler, n) as (client, info):
            outcomes = list(_dask(tasks, client, callback))
    elif executor == "process" and n > 1 and len(tasks) > 1:
        info = ExecutorInfo("process", min(n, len(tasks)))
        outcomes = list(_process(tasks, info.workers, callback))
    else:
        info = ExecutorInfo("serial", 1)
        outcomes = list(_serial(tasks, callback))
    return sorted(outcomes, key=lambda o: o.index), info
