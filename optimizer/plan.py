"""Solution -> plan document (the output contract), plus baselines.

The plan restates every number the checker needs (demand, capacities, latencies, prices, limits),
so `optimizer.check.check_plan` can verify it without the model.
"""

from __future__ import annotations

import math
import platform
from collections import defaultdict
from collections.abc import Iterable, Mapping

from optimizer import __version__
from optimizer.candidates import CandidateInfo, CandidateSet
from optimizer.model.data import FIXED_OPTIONS, FleetData
from optimizer.schema.plan import (
    Alternative,
    Baseline,
    Deployment,
    Engine,
    Explanation,
    Flow,
    InstanceHolding,
    OperatingPoint,
    Plan,
    PlanPeriod,
    PlanRegion,
    PlanSite,
    PlanWorkload,
    Predicted,
    RegionPeriod,
    Rules,
    SolveFacts,
    SpeculativeConfig,
)
from optimizer.schema.problem import Problem, Workload
from optimizer.solve import Solution, SolveStatus

TOL = 1e-6
"""Traffic (requests/s) at or below this is solver noise, not a flow: HiGHS's primal feasibility
tolerance (1e-7) lets a few nanorequests per second ride on a configuration with no replicas
(seen: 3.7e-9 rps on edge_hybrid), which the plan's re-check would rightly reject."""


def build_plan(
    problem: Problem,
    cset: CandidateSet,
    sol: Solution,
    baselines: list[Baseline] | None = None,
) -> Plan:
    """Assemble the plan from the solution, restating the data needed to re-check it.

    The plan holds no wall-clock timings: the same input and options give the same plan bytes
    (timings are on `optimizer.pipeline.PlanResult.timings`, printed by `solve --timings`)."""
    fleet: FleetData = cset.fleet
    periods = [p.id for p in fleet.periods]
    hours = {p.id: p.hours_per_month for p in fleet.periods}
    wdata = {w.id: w for w in fleet.workloads}
    cand = {c.id: c for c in fleet.candidates}
    offers = {(o.site, o.gpu, o.option): o for o in fleet.offers}
    inst_type = {
        (s.id, cset.gpu_ids_by_offer[(s.id, i)]): o.instance_type
        for s in problem.sites
        for i, o in enumerate(s.offers)
        if (s.id, i) in cset.gpu_ids_by_offer
    }

    cloud = {
        (s.id, cset.gpu_ids_by_offer[(s.id, i)]): (o.catalog_prices.provider, o.catalog_prices.region)
        for s in problem.sites
        for i, o in enumerate(s.offers)
        if (s.id, i) in cset.gpu_ids_by_offer and o.catalog_prices is not None
    }

    # Deployments -----------------------------------------------------------------------------
    reps: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for (c, s, o, t), n in sol.replicas.items():
        if n > 0:
            reps[(c, s, o)][t] = n
    deployments: list[Deployment] = []
    for (c, s, o), by_t in sorted(reps.items()):
        ci = cset.info[c]
        full = {t: int(by_t.get(t, 0)) for t in periods}
        peak = max(full.values())
        wl = problem_workload(problem, ci.workload)
        spec = wl.speculative if ci.speculative else None
        deployments.append(
            Deployment(
                workload=ci.workload,
                site=s,
                gpu=ci.gpu,
                model=ci.model,
                precision=ci.precision,
                tensor_parallel=ci.tensor_parallel,
                purchase_option=o,
                candidate=c,
                gpus_per_replica=cand[c].gpus_per_replica,
                replicas=peak,
                gpus=peak * cand[c].gpus_per_replica,
                replicas_by_period=full,
                speculative=ci.speculative,
                availability=offers[(s, ci.gpu, o)].availability,
                predicted=Predicted(
                    capacity_rps=ci.capacity_rps,
                    output_tokens_per_s=ci.output_tokens_per_s,
                    ttft_ms=ci.ttft_ms,
                    tpot_ms=ci.tpot_ms,
                    batch=ci.batch,
                    max_batch=ci.max_batch,
                    memory_gb_per_gpu=ci.memory_gb_per_gpu,
                    measured=ci.measured,
                    model_capacity_rps=ci.model_capacity_rps if ci.measured else None,
                    model_ttft_ms=ci.model_ttft_ms if ci.measured else None,
                    model_tpot_ms=ci.model_tpot_ms if ci.measured else None,
                    model_note=ci.model_note if ci.measured else None,
                    operating_point=operating_point(ci),
                ),
                engine=Engine(
                    name=ci.engine,
                    tensor_parallel_size=ci.tensor_parallel,
                    max_num_seqs=max(1, ci.batch),
                    max_model_len=ci.max_model_len,
                    quantization=ci.vllm_quantization,
                    kv_cache_dtype=ci.kv_cache_dtype,
                    gpu_memory_utilization=gpu_memory_utilization(ci.memory_gb_per_gpu, ci.gpu_memory_gb),
                    speculative_config=SpeculativeConfig(
                        model=cset.draft_hf_ids[ci.workload], num_speculative_tokens=spec.draft_tokens
                    )
                    if spec
                    else None,
                ),
                hf_repo=ci.hf_repo,
                hf_repo_source=ci.hf_repo_source,
                checkpoint_note=ci.checkpoint_note,
                gpu_memory_gb=ci.gpu_memory_gb,
                gpu_vendor=ci.gpu_vendor,
                device_kind="cpu" if ci.device_kind == "cpu" else "gpu",
                instance_type=inst_type.get((s, ci.gpu)),
                cloud=cloud.get((s, ci.gpu), (None, None))[0],
                cloud_region=cloud.get((s, ci.gpu), (None, None))[1],
            )
        )

    # Instances -------------------------------------------------------------------------------
    inst: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(dict)
    for (s, g, o, t, tenant), n in sol.instances.items():
        if n > 0:
            inst[(s, g, o, tenant)][t] = n
    holdings = []
    for (s, g, o, tenant), by_t in sorted(inst.items()):
        off = offers[(s, g, o)]
        holdings.append(
            InstanceHolding(
                site=s,
                gpu=g,
                purchase_option=o,
                tenant=tenant,
                gpus_per_instance=off.gpus_per_instance,
                instance_type=inst_type.get((s, g)),
                instances_by_period={t: int(by_t.get(t, 0)) for t in periods},
                usd_per_gpu_hour=off.usd_per_gpu_hour,
                cost_terms_usd_per_gpu_hour=dict(off.cost_terms_usd_per_gpu_hour),
                fixed=o in FIXED_OPTIONS,
                supply_max_gpus=fleet.supply_max_gpus.get((s, g)),
                gpu_power_kw=fleet.gpu_power_kw.get(g, 0.0),
            )
        )

    # Traffic ---------------------------------------------------------------------------------
    egress = {(r.workload, r.region, r.site, r.candidate): r.egress_usd_per_request for r in fleet.routes}
    flows = []
    for (wid, r, s, c, t), rps in sorted(sol.traffic.items()):
        if rps <= TOL:
            continue
        rtt = cset.rtt_ms[(r, s)]
        flows.append(
            Flow(
                workload=wid,
                region=r,
                site=s,
                candidate=c,
                period=t,
                rps=rps,
                rtt_ms=rtt,
                ttft_ms=rtt + cset.info[c].ttft_ms,
                egress_usd_per_request=egress[(wid, r, s, c)],
            )
        )
    serverless = [
        RegionPeriod(workload=w, region=r, period=t, rps=v)
        for (w, r, t), v in sorted(sol.serverless.items())
        if v > TOL
    ]
    unmet = [
        RegionPeriod(workload=w, region=r, period=t, rps=v)
        for (w, r, t), v in sorted(sol.unmet.items())
        if v > TOL
    ]
    demand = [
        RegionPeriod(workload=w, region=r, period=t, rps=v)
        for (w, r, t), v in sorted(fleet.demand_rps.items())
    ]

    # Per-workload cost attribution and cost per million tokens ------------------------------------
    wl_cost = _attribute_costs(fleet, sol, deployments, holdings, hours)
    # Requests per month by kind and workload: rps x 3600 x hours, summed once over each list.
    monthly: dict[str, dict[str, float]] = {
        kind: defaultdict(float) for kind in ("served", "serverless", "unmet", "demand")
    }
    for kind, items in (("served", flows), ("serverless", serverless), ("unmet", unmet), ("demand", demand)):
        for item in items:
            monthly[kind][item.workload] += item.rps * 3600 * hours[item.period]
    plan_workloads = []
    total_tokens = 0.0
    for w in problem.workloads:
        f = cset.workloads[w.id]
        tok_per_req = f.input_tokens + f.output_tokens
        month = {kind: monthly[kind].get(w.id, 0.0) for kind in ("served", "serverless", "unmet", "demand")}
        # Delivered requests are demand minus shortfall (serverless and GPU traffic in demand
        # units); GPU traffic above demand is headroom, not tokens delivered.
        delivered = max(0.0, month["demand"] - month["unmet"])
        tokens = delivered * tok_per_req
        total_tokens += tokens
        dem = month["demand"] or 1.0
        gpu_served = max(0.0, delivered - month["serverless"])
        wd = wdata[w.id]
        plan_workloads.append(
            PlanWorkload(
                id=w.id,
                model=cset.primary_model[w.id],
                input_tokens=f.input_tokens,
                output_tokens=f.output_tokens,
                requests_per_day=f.requests_per_day,
                ttft_target_ms=f.ttft_target_ms,
                tpot_target_ms=f.tpot_target_ms,
                headroom=wd.headroom,
                dedicated=wd.dedicated,
                placement=wd.placement,
                residency=list(w.residency) if isinstance(w.residency, tuple) else w.residency,
                daily_coverage=wd.daily_coverage,
                group_max_share=dict(wd.group_max_share),
                serverless_allowed=wd.serverless_usd_per_request is not None,
                serverless_max_share=wd.serverless_max_share,
                serverless_usd_per_request=wd.serverless_usd_per_request,
                shortfall_usd_per_request=wd.unmet_usd_per_request,
                monthly_cost_usd=wl_cost[w.id],
                tokens_per_month=tokens,
                usd_per_million_tokens=wl_cost[w.id] / tokens * 1e6 if tokens > 0 else None,
                served_share=min(1.0, gpu_served / dem),
                serverless_share=min(1.0, month["serverless"] / dem),
                unmet_share=min(1.0, month["unmet"] / dem),
            )
        )

    sites = [
        PlanSite(
            id=s.id,
            kind=s.kind,
            jurisdiction=s.jurisdiction,
            utilization=s.sustainable_utilization,
            max_gpus=s.max_gpus,
            power_limit_kw=s.power_limit_kw,
            rtt_ms={r: float(v) for r, v in s.latency_ms.items()},
        )
        for s in problem.sites
    ]
    info = sol.solver
    facts = SolveFacts(
        solver=info.name,
        solver_version=info.version,
        status=sol.status.value,
        fallback_reason=info.fallback_reason,
        time_limit_s=float(info.options.get("time_limit_s", 0.0)),
        mip_gap_limit=float(info.options.get("mip_gap", 0.0)),
        gap=info.gap,
        best_bound_usd=info.best_bound,
        variables=int(sol.model_stats.get("variables", 0)),
        constraints=int(sol.model_stats.get("constraints", 0)),
        candidates_considered=cset.considered,
        candidates_kept=len(fleet.candidates),
        candidates_not_fitting=cset.not_fitting,
        library_version=__version__,
        python_version=platform.python_version(),
    )
    total = sum(sol.cost_terms.values())
    return Plan(
        problem=problem.name,
        status="optimal" if sol.status is SolveStatus.OPTIMAL else "feasible",
        gap=info.gap,
        monthly_cost_usd=total,
        monthly_spend_usd=total - sol.cost_terms.get("shortfall_penalty", 0.0),
        cost_breakdown=dict(sol.cost_terms),
        usd_per_million_tokens=(total - sol.cost_terms.get("shortfall_penalty", 0.0)) / total_tokens * 1e6
        if total_tokens > 0
        else None,
        periods=[PlanPeriod(id=p.id, hours_per_month=p.hours_per_month) for p in fleet.periods],
        regions=[PlanRegion(id=r.id, jurisdiction=r.jurisdiction) for r in problem.user_regions],
        sites=sites,
        workloads=plan_workloads,
        deployments=deployments,
        instances=holdings,
        routing=flows,
        demand=demand,
        serverless=serverless,
        unmet=unmet,
        rules=Rules(
            spot_max_share=fleet.spot_max_share,
            max_gpu_types=fleet.max_gpu_types,
            min_replicas_per_active_site=fleet.min_replicas_per_active_site,
            budget_usd_per_month=fleet.budget_usd_per_month,
        ),
        baselines=baselines or [],
        solve=facts,
    )


def operating_point(ci: CandidateInfo) -> OperatingPoint | None:
    """The plan's record of a candidate's operating point (None for measured figures)."""
    p = ci.point
    if p is None or ci.measured:
        return None
    return OperatingPoint(
        regime=p.regime,
        bound_by=p.bound_by,
        running_sequences=p.running,
        ttft_mean_ms=p.ttft_mean_ms,
        ttft_p90_ms=p.ttft_p90_ms,
        ttft_p99_ms=p.ttft_p99_ms,
        tpot_mean_ms=p.tpot_mean_ms,
        tpot_p90_ms=p.tpot_p90_ms,
        tpot_p99_ms=p.tpot_p99_ms,
        e2e_ms=p.e2e_ms,
        prefill_share=p.prefill_share,
    )


def gpu_memory_utilization(memory_gb_per_gpu: float, gpu_memory_gb: float) -> float:
    """vLLM `--gpu-memory-utilization` for a replica: the fraction of GPU memory the plan's operating
    point uses (weights + reserve + KV in use), plus a 0.02 margin, rounded up to 0.01 and kept within
    [0.90, 0.95] (vLLM's default up to a level that leaves room for CUDA graphs and NCCL buffers).

    >>> gpu_memory_utilization(60.0, 80.0)
    0.9
    >>> gpu_memory_utilization(73.0, 80.0)  # 0.9125 + 0.02 -> 0.94
    0.94
    """
    need = memory_gb_per_gpu / gpu_memory_gb + 0.02
    return min(0.95, max(0.90, math.ceil(round(need * 100, 6)) / 100))


def problem_workload(problem: Problem, wid: str) -> Workload:
    return next(w for w in problem.workloads if w.id == wid)


def _attribute_costs(
    fleet: FleetData,
    sol: Solution,
    deployments: list[Deployment],
    holdings: list[InstanceHolding],
    hours: dict[str, float],
) -> dict[str, float]:
    """Split the monthly cost over workloads so that the parts add up to the total.

    Instance holdings: a dedicated holding is its tenant's; a shared one is split in proportion to
    the GPUs each non-dedicated workload's replicas occupy in that (site, gpu, option) pool in that
    period (a dedicated workload's replicas sit on its own instances, never on shared ones), else
    (idle capacity) over the pool's use in all periods, else over each workload's GPU-hours in the
    whole plan, else equally. Traffic costs (egress, serverless, shortfall penalty) belong to the
    workload whose traffic it is. `optimizer.check.check_workload_costs` re-derives this split.
    """
    out: dict[str, float] = {w.id: 0.0 for w in fleet.workloads}
    dedicated = {w.id for w in fleet.workloads if w.dedicated}
    use = _gpu_use([d for d in deployments if d.workload not in dedicated])
    for h in holdings:
        pool = (h.site, h.gpu, h.purchase_option)
        for t, n in h.instances_by_period.items():
            cost = n * h.gpus_per_instance * h.usd_per_gpu_hour * hours[t]
            if cost == 0:
                continue
            if h.tenant != "shared" and h.tenant in out:
                out[h.tenant] += cost
                continue
            for w, share in _cost_shares(use, pool, t, list(out)).items():
                out[w] += cost * share
    egress = {(r.workload, r.region, r.site, r.candidate): r.egress_usd_per_request for r in fleet.routes}
    wd = {w.id: w for w in fleet.workloads}
    for (w, r, s, c, t), rps in sol.traffic.items():
        out[w] += rps * 3600 * hours[t] * egress[(w, r, s, c)]
    for (w, _r, t), rps in sol.serverless.items():
        out[w] += rps * 3600 * hours[t] * (wd[w].serverless_usd_per_request or 0.0)
    for (w, _r, t), rps in sol.unmet.items():
        out[w] += rps * 3600 * hours[t] * (wd[w].unmet_usd_per_request or 0.0)
    return out


GpuUse = dict[tuple[str, str, str, str], dict[str, float]]
"""(site, gpu, option, period) -> workload -> GPUs its replicas occupy."""


def _gpu_use(deployments: list[Deployment]) -> GpuUse:
    use: GpuUse = defaultdict(lambda: defaultdict(float))
    for d in deployments:
        for t, n in d.replicas_by_period.items():
            if n > 0:
                use[(d.site, d.gpu, d.purchase_option, t)][d.workload] += n * d.gpus_per_replica
    return use


def _cost_shares(
    use: GpuUse, pool: tuple[str, str, str], period: str, workloads: list[str]
) -> dict[str, float]:
    """Shares (summing to 1) in which a shared pool's cost in `period` is split over workloads."""
    levels = (
        use.get((*pool, period), {}),
        _summed(v for k, v in use.items() if k[:3] == pool),
        _summed(use.values()),
    )
    for weights in levels:
        total = sum(weights.values())
        if total > 0:
            return {w: v / total for w, v in sorted(weights.items()) if v > 0}
    return {w: 1.0 / len(workloads) for w in workloads} if workloads else {}


def _summed(maps: Iterable[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for m in maps:
        for k, v in m.items():
            out[k] += v
    return out


def explain(plan: Plan, cset: CandidateSet, top: int = 3) -> list[Explanation]:
    """For each (workload, site, option) in the plan: the chosen configuration's cost per unit of
    usable capacity, its rank among every configuration of that workload buyable at that site, and
    the best runners-up, with the regions each could serve within the TTFT target."""
    fleet = cset.fleet
    util = {s.id: s.utilization for s in fleet.sites}
    offers_at: dict[str, list[tuple[str, str, float, float]]] = defaultdict(list)
    for o in fleet.offers:
        offers_at[o.site].append((o.gpu, o.option, o.usd_per_gpu_hour, o.availability))
    gpus = {c.id: c.gpus_per_replica for c in fleet.candidates}
    serves: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in fleet.routes:
        serves[(r.candidate, r.site)].add(r.region)

    def alt(cid: str, site: str, option: str, price: float, avail: float) -> Alternative:
        ci = cset.info[cid]
        usable = ci.capacity_rps * util[site] * avail
        return Alternative(
            candidate=cid,
            gpu=ci.gpu,
            model=ci.model,
            precision=ci.precision,
            tensor_parallel=ci.tensor_parallel,
            purchase_option=option,
            usd_per_rps_hour=price * gpus[cid] / usable,
            capacity_rps=ci.capacity_rps,
            ttft_ms=ci.ttft_ms,
            serves_regions=sorted(serves[(cid, site)]),
            measured=ci.measured,
            model_capacity_rps=ci.model_capacity_rps if ci.measured else None,
            model_ttft_ms=ci.model_ttft_ms if ci.measured else None,
            regime=ci.point.regime if ci.point is not None else None,
            bound_by=ci.point.bound_by if ci.point is not None else None,
        )

    out: list[Explanation] = []
    seen: set[tuple[str, str, str, str]] = set()
    for d in plan.deployments:
        key = (d.workload, d.site, d.candidate, d.purchase_option)
        if key in seen:
            continue
        seen.add(key)
        options = []
        for c in fleet.candidates:
            if c.workload != d.workload or not serves[(c.id, d.site)]:
                continue
            for gpu, option, price, avail in offers_at[d.site]:
                if gpu == c.gpu:
                    options.append(alt(c.id, d.site, option, price, avail))
        options.sort(key=lambda a: (a.usd_per_rps_hour, a.candidate, a.purchase_option))
        chosen = next(
            a for a in options if a.candidate == d.candidate and a.purchase_option == d.purchase_option
        )
        rank = options.index(chosen) + 1
        runners = [a for a in options if a is not chosen][:top]
        best = options[0].usd_per_rps_hour
        if chosen.usd_per_rps_hour <= best * (1 + 1e-9):
            note = (
                "cheapest usable capacity at this site"
                if rank == 1
                else "tied for the cheapest usable capacity at this site"
            )
        else:
            cheaper = [a for a in options if a.usd_per_rps_hour < chosen.usd_per_rps_hour]
            unreachable = sorted(
                {r for r in chosen.serves_regions if not any(r in a.serves_regions for a in cheaper)}
            )
            reasons = []
            if unreachable:
                reasons.append(
                    f"no cheaper configuration reaches {', '.join(unreachable)} within the TTFT target"
                )
            if d.purchase_option in {"on_demand", "spot"} and any(
                a.purchase_option not in {"on_demand", "spot"} for a in cheaper
            ):
                reasons.append("cheaper commitments are paid in every period, this covers peaks only")
            if any(a.purchase_option == "spot" for a in cheaper):
                reasons.append("spot is capped by the spot share")
            reasons.append(
                "capacity is bought in whole replicas and instances, so a mix can beat the "
                "cheapest rate (see the other deployments at this site)"
            )
            note = "; ".join(reasons)
        out.append(
            Explanation(
                workload=d.workload, site=d.site, chosen=chosen, rank=rank, runners_up=runners, note=note
            )
        )
    return out
