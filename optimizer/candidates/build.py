"""`build_candidates`: problem + catalog + performance model -> the MIP's number table."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.candidates.bands import band_candidates, candidate_info
from optimizer.candidates.costs import hours_per_month
from optimizer.candidates.demand import daily_requests, tokens_per_request, workload_data
from optimizer.candidates.diagnose import must_route, region_finding
from optimizer.candidates.evaluate import EvaluationCache, evaluate_grids
from optimizer.candidates.grid import WorkloadGrid, workload_grid
from optimizer.candidates.offers import OfferTable, collect_offers
from optimizer.candidates.prune import prune as prune_dominated
from optimizer.candidates.prune import prune_per_site
from optimizer.candidates.records import (
    CandidateInfo,
    CandidateSet,
    Config,
    ConfigOutcome,
    Rejected,
    WorkloadFacts,
)
from optimizer.candidates.routes import RouteIndex, round_trips, route_rows
from optimizer.catalog import Catalog
from optimizer.errors import InfeasibleError
from optimizer.model.data import CandidateData, FleetData, PeriodData, RouteData, WorkloadData
from optimizer.model.diagnose import Finding, render_findings
from optimizer.schema.problem import Problem


def build_candidates(
    problem: Problem, catalog: Catalog, *, prune: bool = True, cache: EvaluationCache | None = None
) -> CandidateSet:
    """Enumerate, evaluate and prune replica configurations; emit FleetData for the MIP.

    1. sites and offers: prices per purchase option          `collect_offers`
    2. per workload: configurations, TTFT budgets, routes     `workload_grid`
    3. every configuration at every budget, vectorised        `evaluate_grids` (through `cache`)
    4. per workload: bands -> candidates -> routes -> prune   `workload_candidates`
    5. a region left without any route: name the rule         `check_servable` (InfeasibleError)
    6. the MIP's table                                        `candidate_set`

    Pass the same `cache` to builds of related problems (what-ifs, baselines): only inputs that
    change a replica's physics are evaluated again.
    """
    cache = cache if cache is not None else EvaluationCache()
    offers = collect_offers(problem, catalog)
    rtt = round_trips(problem)
    grids = [workload_grid(problem, catalog, offers, wi, w) for wi, w in enumerate(problem.workloads)]
    outcomes = evaluate_grids(grids, cache)
    tables = [
        workload_candidates(problem, catalog, offers, rtt, g, outcomes[g.workload.id], prune=prune)
        for g in grids
    ]
    notes = [*offers.notes, *check_servable(problem, catalog, offers, rtt, tables, cache)]
    return candidate_set(problem, catalog, offers, rtt, tables, notes)


@dataclass(frozen=True)
class WorkloadCandidates:
    """One workload's share of the table."""

    grid: WorkloadGrid
    outcomes: tuple[ConfigOutcome, ...]
    data: WorkloadData
    candidates: tuple[CandidateInfo, ...]
    """Kept candidates (pruned, each with at least one route), in table order."""
    routes: dict[str, frozenset[tuple[str, str]]]
    considered: int
    """Configuration-bands evaluated."""
    not_fitting: int
    """Configuration-bands some rule rejected."""


def workload_candidates(
    problem: Problem,
    catalog: Catalog,
    offers: OfferTable,
    rtt: dict[tuple[str, str], float],
    g: WorkloadGrid,
    outcomes: tuple[ConfigOutcome, ...],
    *,
    prune: bool,
) -> WorkloadCandidates:
    """Admitted bands -> candidates; their routes; exact dominance pruning (whole candidates, then
    candidates at single sites); route-less ones dropped."""
    taken: set[str] = set()
    bands = [b for o in outcomes for b in band_candidates(g, o, taken)]
    index = RouteIndex(g, offers, rtt)
    routes = {b.id: index.routes(b) for b in bands}
    survivors = bands
    if prune:
        survivors = prune_dominated(bands, routes)
        routes = {**routes, **prune_per_site(survivors, routes)}
    kept = [candidate_info(g, b, catalog) for b in survivors if routes[b.id]]
    return WorkloadCandidates(
        grid=g,
        outcomes=outcomes,
        data=workload_data(problem, catalog, g.workload),
        candidates=tuple(kept),
        routes=routes,
        considered=len(g.configs) * len(g.budgets),
        not_fitting=sum(isinstance(b, Rejected) for o in outcomes for b in o.bands),
    )


def check_servable(
    problem: Problem,
    catalog: Catalog,
    offers: OfferTable,
    rtt: dict[tuple[str, str], float],
    tables: list[WorkloadCandidates],
    cache: EvaluationCache,
) -> list[str]:
    """Raise InfeasibleError naming, per (workload, region) with demand but no route that must be
    routed, the rule that removed the last option; return notes for regions whose traffic goes to
    serverless or shortfall for want of a route."""
    findings: list[Finding] = []
    notes: list[str] = []
    for t in tables:
        served = {r for c in t.candidates for r, _ in t.routes[c.id]}
        missing = sorted({r for _, r, _ in t.grid.demand} - served)
        if not missing:
            continue
        by_config: dict[Config, ConfigOutcome] = {o.config: o for o in t.outcomes}
        if must_route(t.data):
            findings.extend(
                region_finding(problem, catalog, t.grid, r, offers, rtt, by_config, cache) for r in missing
            )
        else:
            f = region_finding(problem, catalog, t.grid, missing[0], offers, rtt, by_config, cache)
            notes.append(
                f"workload {t.grid.workload.id}: no GPU route from {', '.join(missing)} "
                f"({f.rule}: {f.detail}); "
                "that traffic goes to serverless or shortfall"
            )
    if findings:
        raise InfeasibleError(render_findings(findings))
    return notes


def candidate_set(
    problem: Problem,
    catalog: Catalog,
    offers: OfferTable,
    rtt: dict[tuple[str, str], float],
    tables: list[WorkloadCandidates],
    notes: list[str],
) -> CandidateSet:
    """Assemble FleetData (periods, workloads, sites, candidates, offers, routes, demand, limits)
    and the plan's side tables."""
    po = problem.purchase_options
    info: dict[str, CandidateInfo] = {}
    candidates: list[CandidateData] = []
    routes: list[RouteData] = []
    demand: dict[tuple[str, str, str], float] = {}
    facts: dict[str, WorkloadFacts] = {}
    for t in tables:
        w = t.grid.workload
        tin, tout = tokens_per_request(w)
        facts[w.id] = WorkloadFacts(w.id, tin, tout, daily_requests(w), w.slo.ttft_ms, w.slo.tpot_ms)
        demand.update(t.grid.demand)
        for ci in t.candidates:
            info[ci.id] = ci
            candidates.append(
                CandidateData(
                    ci.id, w.id, ci.model, ci.gpu, ci.tensor_parallel, ci.capacity_rps, ci.ttft_ms, ci.tpot_ms
                )
            )
            routes.extend(route_rows(problem, w.id, ci, t.routes[ci.id], tout))
    fleet = FleetData(
        periods=tuple(PeriodData(p.id, hours_per_month(p.hours_per_day)) for p in problem.period_list()),
        workloads=tuple(t.data for t in tables),
        regions=tuple(r.id for r in problem.user_regions),
        sites=offers.sites,
        candidates=tuple(candidates),
        offers=offers.offers,
        routes=tuple(routes),
        demand_rps=demand,
        gpu_power_kw={g.id: g.tdp_w / 1000.0 for g in offers.gpus.values()},
        supply_max_gpus=offers.supply,
        spot_max_share=po.spot.max_share if po.spot is not None else 0.0,
        max_gpu_types=problem.policy.max_gpu_types,
        min_replicas_per_active_site=problem.policy.min_replicas_per_active_site,
        budget_usd_per_month=problem.policy.budget_usd_per_month,
    )
    considered = sum(t.considered for t in tables)
    not_fitting = sum(t.not_fitting for t in tables)
    return CandidateSet(
        fleet,
        info,
        facts,
        rtt,
        considered,
        not_fitting,
        pruned=considered - not_fitting - len(info),
        gpu_ids_by_offer=offers.gpu_ids_by_offer,
        primary_model={w.id: catalog.model(w.model).id for w in problem.workloads},
        draft_hf_ids={
            w.id: catalog.model(w.speculative.draft_model).hf_id
            for w in problem.workloads
            if w.speculative is not None
        },
        notes=notes,
    )
