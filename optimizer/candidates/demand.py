"""Workload traffic: requests per day, per-period load factors, demand per (region, period), and the
workload's rules as the MIP sees them."""

from __future__ import annotations

from optimizer.catalog import Catalog
from optimizer.errors import InputError, InputIssue
from optimizer.model.data import WorkloadData
from optimizer.schema.problem import Problem, Workload

SECONDS_PER_DAY = 86400.0


def tokens_per_request(w: Workload) -> tuple[float, float]:
    """Mean (input, output) tokens per request."""
    return w.request.mean_input_tokens, w.request.mean_output_tokens


def daily_requests(w: Workload, where: str | None = None) -> float:
    """Requests per day from whichever volume the workload states (`where`: the workload's path in
    the problem, `workloads[i]`, for messages)."""
    d = w.demand
    if d.requests_per_day is not None:
        return d.requests_per_day
    if d.output_tokens_per_day is not None:
        return d.output_tokens_per_day / w.request.mean_output_tokens
    assert d.audio_hours_per_day is not None
    if not w.request.audio_seconds:
        raise InputError(
            InputIssue(
                f"{where or 'workloads'}.request.audio_seconds",
                f"workload {w.id}: audio_hours_per_day needs request.audio_seconds",
            )
        )
    return d.audio_hours_per_day * 3600.0 / w.request.audio_seconds


def workload_path(problem: Problem, w: Workload) -> str:
    """The workload's path in the problem document, `workloads[i]` (as the loader cites it)."""
    index = next((i for i, x in enumerate(problem.workloads) if x.id == w.id), None)
    return f"workloads[{index}]" if index is not None else "workloads"


def profile_factors(problem: Problem, w: Workload) -> list[float]:
    """Per-period load multipliers with hour-weighted mean 1: p_t / (sum_t p_t h_t / 24)."""
    periods = problem.period_list()
    prof = w.demand.profile
    if prof is None:
        raw = [1.0] * len(periods)
    elif isinstance(prof, dict):
        raw = [float(prof.get(p.id, 0.0)) for p in periods]
    else:
        raw = [float(v) for v in prof]
    mean = sum(v * p.hours_per_day for v, p in zip(raw, periods, strict=True)) / 24.0
    if mean <= 0:
        raise InputError(
            InputIssue(
                f"{workload_path(problem, w)}.demand.profile",
                f"workload {w.id}: the profile weights are all zero; "
                "give positive weights where there is traffic",
            )
        )
    return [v / mean for v in raw]


def region_shift(problem: Problem, offset_hours: float) -> int:
    """Hourly periods: a region at UTC+k sees local hour (t + k) mod 24 at UTC period t."""
    return round(offset_hours) % 24 if problem.periods == "hourly" else 0


def demand_rps(problem: Problem, w: Workload) -> dict[tuple[str, str, str], float]:
    """(workload, region, period) -> requests/s: per_day x share x factor[(t + shift) mod T] / 86400
    (only positive rates)."""
    periods = problem.period_list()
    regions = {r.id: r for r in problem.user_regions}
    per_day = daily_requests(w, workload_path(problem, w))
    factors = profile_factors(problem, w)
    out: dict[tuple[str, str, str], float] = {}
    for r_id, share in w.demand.region_split.items():
        shift = region_shift(problem, regions[r_id].utc_offset_hours)
        for ti, p in enumerate(periods):
            rate = per_day * share * factors[(ti + shift) % len(periods)] / SECONDS_PER_DAY
            if rate > 0:
                out[(w.id, r_id, p.id)] = rate
    return out


def workload_data(problem: Problem, catalog: Catalog, w: Workload) -> WorkloadData:
    """The workload's rules for the MIP: headroom, dedication, serverless price per request
    (I x in-price + O x out-price) / 1e6, shortfall penalty per request, batch coverage, model
    routing shares, placement."""
    tin, tout = tokens_per_request(w)
    sl = w.serverless
    return WorkloadData(
        id=w.id,
        headroom=problem.policy.headroom,
        dedicated=w.dedicated,
        serverless_usd_per_request=(
            (tin * sl.usd_per_million_input_tokens + tout * sl.usd_per_million_output_tokens) / 1e6
            if sl.allowed
            else None
        ),
        serverless_max_share=sl.max_share,
        unmet_usd_per_request=(
            (tin + tout) * problem.policy.shortfall.penalty_usd_per_million_tokens / 1e6
            if problem.policy.shortfall.allowed
            else None
        ),
        daily_coverage=bool(w.slo.is_batch and (w.slo.deadline_hours or 0) >= 24.0),
        group_max_share={catalog.model(alt.model).id: alt.max_share for alt in w.alternatives},
        placement=w.placement or problem.policy.placement,
    )
