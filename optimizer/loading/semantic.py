"""Checks on a parsed problem that the schema alone cannot express: cross-references, names the catalog
must resolve, sums, and targets no plan could ever meet.

`check_problem(problem, catalog)` runs every check and returns all findings at once as a
`SemanticReport`: `errors` stop the problem from being solved, `warnings` do not (each says what will
happen instead). Issues carry a dotted path (`workloads[0].slo.ttft_ms`) but no line: the loader
places them in the file. Every message says how to fix the problem.

One function per family of checks, in the order a reader of a problem file meets the sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from optimizer.errors import InputIssue
from optimizer.loading.messages import MAX_ISSUES, did_you_mean, format_number
from optimizer.perf.engines import engine_conflicts, planning_spec
from optimizer.schema.problem import GpuOffer, Problem, PurchaseOption, Site, Workload
from optimizer.schema.types import MAX_REQUESTS_PER_DAY, MAX_TOKENS_PER_DAY

if TYPE_CHECKING:
    from optimizer.catalog import Catalog, GpuSpec, ModelSpec

SUM_TOLERANCE = 1e-6
"""Absolute tolerance on sums that must equal 1 (shares) or 24 (hours)."""


@dataclass(frozen=True)
class SemanticReport:
    """Everything the checks found."""

    errors: tuple[InputIssue, ...] = ()
    warnings: tuple[InputIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Context:
    problem: Problem
    catalog: Catalog
    errors: list[InputIssue] = field(default_factory=list)
    warnings: list[InputIssue] = field(default_factory=list)
    offer_gpus: dict[tuple[int, int], GpuSpec] = field(default_factory=dict)
    """Resolved GPU of each (site index, offer index) whose name the catalog knows."""
    models: dict[int, ModelSpec] = field(default_factory=dict)
    """Resolved model of each workload index whose name the catalog knows."""

    def error(self, path: str, message: str) -> None:
        self.errors.append(InputIssue(path=path, message=message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(InputIssue(path=path, message=message))

    @property
    def region_ids(self) -> list[str]:
        return [r.id for r in self.problem.user_regions]

    @property
    def period_ids(self) -> list[str]:
        return [p.id for p in self.problem.period_list()]

    def offered_gpus(self) -> dict[str, GpuSpec]:
        return {g.id: g for g in self.offer_gpus.values()}


def check_problem(problem: Problem, catalog: Catalog) -> SemanticReport:
    """Run every semantic check; return all errors and warnings (never raises for bad input)."""
    ctx = _Context(problem=problem, catalog=catalog)
    check_ids(ctx)
    check_periods(ctx)
    check_regions_and_sites(ctx)
    check_offers(ctx)
    for w, workload in enumerate(problem.workloads):
        prefix = f"workloads[{w}]"
        check_workload_models(ctx, w, workload, prefix)
        check_demand(ctx, w, workload, prefix)
        check_volume(ctx, workload, prefix)
        check_request(ctx, w, workload, prefix)
        check_precisions(ctx, workload, prefix)
        check_engine(ctx, w, workload, prefix)
        check_placement_and_latency(ctx, workload, prefix)
        check_residency(ctx, workload, prefix)
        check_serverless(ctx, workload, prefix)
    check_policy(ctx)
    return SemanticReport(errors=tuple(ctx.errors), warnings=tuple(ctx.warnings))


# --------------------------------------------------------------------------------------------
# Ids and periods
# --------------------------------------------------------------------------------------------


def _duplicates(ctx: _Context, section: str, ids: Sequence[str], what: str) -> None:
    first: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in first:
            ctx.error(
                f"{section}[{i}].id",
                f"duplicate {what} id {ident!r} (also {section}[{first[ident]}]); "
                f"give each {what} its own id",
            )
        else:
            first[ident] = i


def check_ids(ctx: _Context) -> None:
    """Ids are unique within user_regions, sites, workloads and periods; the main sections are not empty."""
    p = ctx.problem
    for section, items in (("user_regions", p.user_regions), ("sites", p.sites), ("workloads", p.workloads)):
        if not items:
            ctx.error(section, f"{section} is empty; a problem needs at least one entry")
    _duplicates(ctx, "user_regions", [r.id for r in p.user_regions], "user region")
    _duplicates(ctx, "sites", [s.id for s in p.sites], "site")
    _duplicates(ctx, "workloads", [w.id for w in p.workloads], "workload")
    if isinstance(p.periods, tuple):
        _duplicates(ctx, "periods", [q.id for q in p.periods], "period")


def check_periods(ctx: _Context) -> None:
    """Named periods cover exactly 24 hours; UTC offsets only matter with `periods: hourly`."""
    p = ctx.problem
    if isinstance(p.periods, tuple):
        if not p.periods:
            ctx.error(
                "periods", "periods is empty; list periods covering 24 hours, write `hourly`, or omit it"
            )
        else:
            total = sum(q.hours_per_day for q in p.periods)
            if abs(total - 24.0) > SUM_TOLERANCE:
                ctx.error(
                    "periods",
                    f"periods cover {total:g} hours of the day; their hours_per_day must add up to 24 "
                    f"({'add' if total < 24 else 'remove'} {abs(24.0 - total):g} h)",
                )
    if p.periods == "hourly":
        for i, region in enumerate(p.user_regions):
            if region.utc_offset_hours != int(region.utc_offset_hours):
                ctx.warn(
                    f"user_regions[{i}].utc_offset_hours",
                    f"utc_offset_hours {region.utc_offset_hours:g} is not a whole number of hours; "
                    "with hourly "
                    "periods the profile is shifted by whole hours (rounded)",
                )
        return
    shaped = any(w.demand.profile is not None for w in p.workloads)
    if not shaped:
        return
    for i, region in enumerate(p.user_regions):
        if region.utc_offset_hours != 0:
            ctx.warn(
                f"user_regions[{i}].utc_offset_hours",
                f"utc_offset_hours {region.utc_offset_hours:g} is ignored: only `periods: hourly` shifts a "
                "demand profile to local time; named periods are the same clock hours for every region. "
                "Use `periods: hourly`, or remove the offset to silence this warning",
            )


# --------------------------------------------------------------------------------------------
# Regions, sites, offers
# --------------------------------------------------------------------------------------------


def check_regions_and_sites(ctx: _Context) -> None:
    """Every site's latency_ms names known regions; every region is served by some site."""
    p = ctx.problem
    regions = ctx.region_ids
    served: set[str] = set()
    for s, site in enumerate(p.sites):
        for region in site.latency_ms:
            if region not in regions:
                ctx.error(
                    f"sites[{s}].latency_ms.{region}",
                    f"unknown user region {region!r}; latency_ms keys must be ids from user_regions "
                    f"({', '.join(regions)}){did_you_mean(region, regions)}",
                )
            else:
                served.add(region)
        if not site.latency_ms:
            ctx.warn(
                f"sites[{s}].latency_ms", f"site {site.id!r} lists no user region, so it serves no traffic"
            )
        if not site.offers:
            ctx.warn(f"sites[{s}].offers", f"site {site.id!r} offers no GPU, so it can host nothing")
    for r, user_region in enumerate(p.user_regions):
        if user_region.id not in served:
            ctx.error(
                f"user_regions[{r}]",
                f"region {user_region.id!r} has no site: no site lists it in latency_ms, "
                f"so its users cannot be served; add `{user_region.id}: <round-trip ms>` "
                "to the latency_ms of the sites that can serve it",
            )


_PRICE_FIELDS: tuple[PurchaseOption, ...] = (
    PurchaseOption.ON_DEMAND,
    PurchaseOption.SPOT,
    PurchaseOption.COMMITTED_1Y,
    PurchaseOption.COMMITTED_3Y,
)


def allowed_options(problem: Problem) -> list[PurchaseOption]:
    """Purchase options the problem allows, in the canonical order."""
    po = problem.purchase_options
    allowed = {
        PurchaseOption.ON_DEMAND: po.on_demand,
        PurchaseOption.SPOT: po.spot is not None,
        PurchaseOption.COMMITTED_1Y: po.committed_1y is not None,
        PurchaseOption.COMMITTED_3Y: po.committed_3y is not None,
        PurchaseOption.OWNED: po.owned is not None,
    }
    return [o for o, ok in allowed.items() if ok]


def _purchase_option_key(option: PurchaseOption) -> str:
    return "on_demand: true" if option is PurchaseOption.ON_DEMAND else f"{option.value}: {{}}"


def check_offers(ctx: _Context) -> None:
    """Each offer names a known GPU and has a price for at least one allowed purchase option; explicit
    prices only for allowed options; `catalog_prices` finds rows; owned offers have a capital cost."""
    p = ctx.problem
    allowed = allowed_options(p)
    discount_base = any(
        c is not None and c.discount_vs_on_demand is not None
        for c in (p.purchase_options.committed_1y, p.purchase_options.committed_3y)
    )
    for s, site in enumerate(p.sites):
        first_offer: dict[str, int] = {}
        for o, offer in enumerate(site.offers):
            path = f"sites[{s}].offers[{o}]"
            gpu = ctx.catalog.find_gpu(offer.gpu)
            if gpu is None:
                ctx.error(f"{path}.gpu", _unknown(ctx, "gpu", offer.gpu))
            else:
                ctx.offer_gpus[(s, o)] = gpu
                if gpu.id in first_offer:
                    ctx.error(
                        f"{path}.gpu",
                        f"site {site.id!r} already offers {gpu.id} "
                        f"(sites[{s}].offers[{first_offer[gpu.id]}]); "
                        "list each GPU once per site, with all its prices in one offer",
                    )
                first_offer.setdefault(gpu.id, o)
            for option in _PRICE_FIELDS:
                price = getattr(offer.prices, option.value)
                if price is None or option in allowed:
                    continue
                if option is PurchaseOption.ON_DEMAND and discount_base:
                    continue  # the base of committed discounts, not an offer of on-demand capacity
                ctx.error(
                    f"{path}.prices.{option.value}",
                    f"a {option.value} price is given but purchase_options does not allow {option.value}; "
                    f"add `{_purchase_option_key(option)}` under purchase_options, or remove this price",
                )
            if gpu is not None:
                _check_offer_prices(ctx, site, offer, gpu, path, allowed)


def _check_offer_prices(
    ctx: _Context, site: Site, offer: GpuOffer, gpu: GpuSpec, path: str, allowed: list[PurchaseOption]
) -> None:
    p = ctx.problem
    priced: set[PurchaseOption] = {o for o in _PRICE_FIELDS if getattr(offer.prices, o.value) is not None}
    ref = offer.catalog_prices
    if ref is not None:
        found = {
            o
            for o in _PRICE_FIELDS
            if ctx.catalog.prices_for(
                ref.provider, ref.region, gpu.id, o.value, offer.gpus_per_instance, ref.instance_type
            )
        }
        if not found:
            ctx.error(f"{path}.catalog_prices", _no_catalog_price(ctx, offer, gpu))
            return  # one error is enough: the missing price is the reason
        priced |= found
    if PurchaseOption.ON_DEMAND in priced:
        for option, terms in (
            (PurchaseOption.COMMITTED_1Y, p.purchase_options.committed_1y),
            (PurchaseOption.COMMITTED_3Y, p.purchase_options.committed_3y),
        ):
            if terms is not None and terms.discount_vs_on_demand is not None:
                priced.add(option)
    owned_allowed = PurchaseOption.OWNED in allowed
    if offer.owned:
        if not owned_allowed:
            ctx.error(
                f"{path}.owned",
                "owned: true but purchase_options does not allow owned GPUs; add `owned: {}` under "
                "purchase_options (with its power and lifetime terms), or set owned: false",
            )
        elif offer.capital_usd_per_gpu is None and gpu.purchase_price_usd is None:
            ctx.error(
                f"{path}.capital_usd_per_gpu",
                f"owned {gpu.id} GPUs need a purchase price and the catalog has none; "
                "give capital_usd_per_gpu (USD per GPU, including its share of the server)",
            )
        else:
            priced.add(PurchaseOption.OWNED)
    elif offer.capital_usd_per_gpu is not None:
        ctx.warn(
            f"{path}.capital_usd_per_gpu",
            "capital_usd_per_gpu is ignored because owned is false; set owned: true to allow buying",
        )
    usable = [o for o in allowed if o in priced]
    if not usable:
        names = ", ".join(o.value for o in allowed if o is not PurchaseOption.OWNED) or "none"
        ctx.error(
            path,
            f"{gpu.id} at site {site.id!r} has no price for any allowed purchase option ({names}); give "
            "prices (e.g. prices.on_demand in USD per GPU-hour), or catalog_prices that the catalog can fill",
        )


def _no_catalog_price(ctx: _Context, offer: GpuOffer, gpu: GpuSpec) -> str:
    ref = offer.catalog_prices
    assert ref is not None
    rows = ctx.catalog.prices()
    providers = sorted({r.provider for r in rows})
    if ref.provider.lower() not in providers:
        return (
            f"the price catalog has no provider {ref.provider!r}; known providers: {', '.join(providers)}"
            f"{did_you_mean(ref.provider, providers)}"
        )
    regions = sorted({r.region for r in rows if r.provider == ref.provider.lower()})
    if ref.region.strip().lower() not in [r.lower() for r in regions]:
        return (
            f"the price catalog has no {ref.provider} region {ref.region!r}; "
            f"{ref.provider} regions with prices: {', '.join(regions)}{did_you_mean(ref.region, regions)}"
        )
    here = [
        r
        for r in rows
        if r.provider == ref.provider.lower() and r.region.lower() == ref.region.strip().lower()
    ]
    same_gpu = sorted({f"{r.instance_type} ({r.gpus_per_instance} GPUs)" for r in here if r.gpu == gpu.id})
    wanted = f"{gpu.id} with gpus_per_instance {offer.gpus_per_instance}"
    if ref.instance_type:
        wanted += f" and instance_type {ref.instance_type!r}"
    if same_gpu:
        return (
            f"the price catalog has no {ref.provider} {ref.region} price for {wanted}; for {gpu.id} it lists "
            f"{', '.join(same_gpu)}: fix gpus_per_instance / instance_type, or give prices explicitly"
        )
    gpus = sorted({r.gpu for r in here})
    return (
        f"the price catalog has no {ref.provider} {ref.region} price for {gpu.id} "
        f"(it has {', '.join(gpus)}); "
        "give prices explicitly instead of catalog_prices"
    )


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------


def _unknown(ctx: _Context, kind: str, name: str) -> str:
    # Past the issues a file reports, suggestions would only cost time (a hostile file has thousands).
    suggestions = ctx.catalog.suggest(kind, name) if len(ctx.errors) < MAX_ISSUES else []
    hint = f"; did you mean {', '.join(repr(s) for s in suggestions[:3])}?" if suggestions else ""
    label = {"gpu": "GPU"}.get(kind, kind)
    return (
        f"unknown {label} {name!r}{hint} (names come from the built-in catalog; add new entries under the "
        "problem's catalog section)"
    )


def check_workload_models(ctx: _Context, w: int, workload: Workload, prefix: str) -> None:
    """The workload's model, draft model, alternatives, measured entries and hf_repo keys name catalog
    entries."""
    model = ctx.catalog.find_model(workload.model)
    if model is None:
        ctx.error(f"{prefix}.model", _unknown(ctx, "model", workload.model))
    else:
        ctx.models[w] = model
    if workload.speculative is not None:
        draft = ctx.catalog.find_model(workload.speculative.draft_model)
        if draft is None:
            ctx.error(
                f"{prefix}.speculative.draft_model", _unknown(ctx, "model", workload.speculative.draft_model)
            )
        elif model is not None and draft.id == model.id:
            ctx.error(
                f"{prefix}.speculative.draft_model",
                f"the draft model is the served model ({model.id}); choose a smaller draft model",
            )
    for a, alt in enumerate(workload.alternatives):
        alt_model = ctx.catalog.find_model(alt.model)
        if alt_model is None:
            ctx.error(f"{prefix}.alternatives[{a}].model", _unknown(ctx, "model", alt.model))
        elif model is not None and alt_model.id == model.id:
            ctx.error(
                f"{prefix}.alternatives[{a}].model",
                f"the alternative is the workload's own model ({model.id}); name a different model",
            )
    for key in workload.hf_repo:
        if key != "default" and ctx.catalog.find_precision(key) is None:
            ctx.error(
                f"{prefix}.hf_repo.{key}",
                _unknown(ctx, "precision", key) + "; keys are precision names or `default`",
            )
    offered = ctx.offered_gpus()
    listed = {p.id for p in map(ctx.catalog.find_precision, workload.precisions or ()) if p is not None}
    served = {
        m.id
        for m in map(ctx.catalog.find_model, [workload.model, *(a.model for a in workload.alternatives)])
        if m
    }
    first: dict[tuple[str, str, int, str], int] = {}
    for m, meas in enumerate(workload.measured):
        path = f"{prefix}.measured[{m}]"
        gpu = ctx.catalog.find_gpu(meas.gpu)
        if gpu is None:
            ctx.error(f"{path}.gpu", _unknown(ctx, "gpu", meas.gpu))
        elif offered and gpu.id not in offered:
            ctx.warn(f"{path}.gpu", f"{gpu.id} is not offered at any site, so this measurement is unused")
        precision = ctx.catalog.find_precision(meas.precision)
        if precision is None:
            ctx.error(f"{path}.precision", _unknown(ctx, "precision", meas.precision))
        elif workload.precisions is not None and listed and precision.id not in listed:
            ctx.warn(
                f"{path}.precision",
                f"{precision.id} is not in this workload's precisions ({', '.join(sorted(listed))}), so this "
                "measurement is unused; add it to precisions to let the optimizer choose it",
            )
        measured_model = ctx.catalog.find_model(meas.model) if meas.model is not None else None
        if meas.model is not None and measured_model is None:
            ctx.error(f"{path}.model", _unknown(ctx, "model", meas.model))
        elif measured_model is not None and served and measured_model.id not in served:
            ctx.warn(
                f"{path}.model",
                f"{measured_model.id} is neither this workload's model nor one of its alternatives, so this "
                "measurement is unused",
            )
        if workload.tensor_parallel is not None and meas.tensor_parallel not in workload.tensor_parallel:
            ctx.warn(
                f"{path}.tensor_parallel",
                f"tensor_parallel {meas.tensor_parallel} is not in this workload's tensor_parallel "
                f"({', '.join(map(str, workload.tensor_parallel))}), so this measurement is unused",
            )
        model_id = (
            measured_model.id if measured_model is not None else ctx.models[w].id if w in ctx.models else ""
        )
        if gpu is not None and precision is not None and model_id:
            config = (gpu.id, precision.id, meas.tensor_parallel, model_id)
            if config in first:
                ctx.error(
                    path,
                    f"a second measurement of {model_id} on {gpu.id} {precision.id} tp{meas.tensor_parallel} "
                    f"(the first is {prefix}.measured[{first[config]}]); keep one",
                )
            first.setdefault(config, m)
        if gpu is not None and meas.tensor_parallel > gpu.max_tensor_parallel:
            ctx.error(
                f"{path}.tensor_parallel",
                f"tensor_parallel {meas.tensor_parallel} exceeds {gpu.id}'s limit of "
                f"{gpu.max_tensor_parallel}",
            )


def check_demand(ctx: _Context, w: int, workload: Workload, prefix: str) -> None:
    """region_split names known regions and sums to 1; the profile matches the periods."""
    demand = workload.demand
    regions = ctx.region_ids
    path = f"{prefix}.demand"
    for region in demand.region_split:
        if region not in regions:
            ctx.error(
                f"{path}.region_split.{region}",
                f"unknown user region {region!r}; region_split keys must be ids from user_regions "
                f"({', '.join(regions)}){did_you_mean(region, regions)}",
            )
    total = sum(demand.region_split.values())
    if not demand.region_split:
        ctx.error(
            f"{path}.region_split", "region_split is empty; give each user region's share of the demand"
        )
    elif abs(total - 1.0) > SUM_TOLERANCE:
        ctx.error(
            f"{path}.region_split",
            f"region_split shares sum to {total:.6g}; they must sum to 1 "
            "(they are fractions of the whole demand)",
        )
    periods = ctx.period_ids
    profile = demand.profile
    if profile is None:
        return
    hint = (
        ""
        if ctx.problem.periods is not None
        else " (periods is omitted, which means one flat 24-hour period)"
    )
    if isinstance(profile, tuple):
        if len(profile) != len(periods):
            ctx.error(
                f"{path}.profile",
                f"profile has {len(profile)} values but the problem has {len(periods)} period(s){hint}; "
                "give one "
                "weight per period, in period order"
                + ("; for 24 hourly values set `periods: hourly`" if len(profile) == 24 else ""),
            )
        weights = list(profile)
    else:
        for key in profile:
            if key not in periods:
                ctx.error(
                    f"{path}.profile.{key}",
                    f"unknown period {key!r}; profile keys must be period ids "
                    f"({', '.join(periods[:6])}{', ...' if len(periods) > 6 else ''}){hint}"
                    f"{did_you_mean(key, periods)}",
                )
        missing = [q for q in periods if q not in profile]
        if missing:
            ctx.error(
                f"{path}.profile",
                f"profile has no weight for period(s) {', '.join(missing[:6])}"
                f"{', ...' if len(missing) > 6 else ''}; "
                "give a weight for every period (0 for no traffic)",
            )
        weights = list(profile.values())
    if weights and not any(v > 0 for v in weights):
        ctx.error(
            f"{path}.profile", "every profile weight is 0; give positive weights where there is traffic"
        )


def daily_volume(workload: Workload) -> tuple[float, float]:
    """(requests, tokens) per day a workload's demand amounts to, whichever volume it states.

    requests = requests_per_day, or output_tokens_per_day / mean output tokens, or
    audio_hours_per_day x 3600 / audio_seconds; tokens = requests x (mean input + mean output tokens).
    """
    d, r = workload.demand, workload.request
    if d.requests_per_day is not None:
        requests = d.requests_per_day
    elif d.output_tokens_per_day is not None:
        requests = d.output_tokens_per_day / max(r.mean_output_tokens, 1.0)
    elif d.audio_hours_per_day is not None and r.audio_seconds:
        requests = d.audio_hours_per_day * 3600.0 / r.audio_seconds
    else:
        return 0.0, 0.0
    return requests, requests * (r.mean_input_tokens + r.mean_output_tokens)


def check_volume(ctx: _Context, workload: Workload, prefix: str) -> None:
    """The demand is within the documented bounds once converted: requests per day <=
    MAX_REQUESTS_PER_DAY and tokens per day (requests x tokens per request) <= MAX_TOKENS_PER_DAY."""
    requests, tokens = daily_volume(workload)
    d = workload.demand
    given = next(
        (k for k in ("requests_per_day", "output_tokens_per_day", "audio_hours_per_day") if getattr(d, k)), ""
    )
    path = f"{prefix}.demand.{given}" if given else f"{prefix}.demand"
    if requests > MAX_REQUESTS_PER_DAY:
        ctx.error(
            path,
            f"this demand amounts to {requests:.3g} requests per day, more than the limit of "
            f"{format_number(MAX_REQUESTS_PER_DAY)}; check its units and the request shape",
        )
    elif tokens > MAX_TOKENS_PER_DAY:
        ctx.error(
            path,
            f"this demand amounts to {tokens:.3g} tokens per day (requests x (input + output tokens)), more "
            f"than the limit of {format_number(MAX_TOKENS_PER_DAY)}; check its units and the request shape",
        )


def check_request(ctx: _Context, w: int, workload: Workload, prefix: str) -> None:
    """Audio fields only for speech models, token histograms only for text models."""
    model = ctx.models.get(w)
    if model is None:
        return
    request, demand = workload.request, workload.demand
    speech = model.modality == "speech"
    if speech:
        if request.audio_seconds is None:
            ctx.error(
                f"{prefix}.request",
                f"{model.id} is a speech model: give request.audio_seconds (audio per request, seconds)",
            )
        if request.histogram is not None:
            ctx.error(
                f"{prefix}.request.histogram",
                f"{model.id} is a speech model: describe requests with audio_seconds and output_tokens, "
                "not a token histogram",
            )
    else:
        if request.audio_seconds is not None:
            ctx.error(
                f"{prefix}.request.audio_seconds",
                f"audio_seconds is only for speech models and {model.id} is a {model.modality} model; "
                "remove it (give input_tokens) or choose a speech model",
            )
        if demand.audio_hours_per_day is not None:
            ctx.error(
                f"{prefix}.demand.audio_hours_per_day",
                f"audio_hours_per_day is only for speech models and {model.id} is a {model.modality} model; "
                "give requests_per_day or output_tokens_per_day",
            )
        _check_context(ctx, model, workload, prefix)


def _check_context(ctx: _Context, model: ModelSpec, workload: Workload, prefix: str) -> None:
    """Text models: a request's input + output tokens fit the model's context window (each histogram
    bin with a share, or the mean request). No engine serves a longer request, measured or not."""
    limit = model.max_context_tokens
    request = workload.request
    shapes = (
        [
            (f"{prefix}.request.histogram[{i}]", b.input_tokens + b.output_tokens, b.share)
            for i, b in enumerate(request.histogram)
        ]
        if request.histogram is not None
        else [(f"{prefix}.request", request.mean_input_tokens + request.mean_output_tokens, 1.0)]
    )
    for path, tokens, share in shapes:
        if share > 0 and tokens > limit:
            ctx.error(
                path,
                f"a request of {tokens:,.0f} tokens (input + output) exceeds {model.id}'s context of "
                f"{limit:,} tokens; shorten the requests or choose a model with a longer context",
            )


def check_precisions(ctx: _Context, workload: Workload, prefix: str) -> None:
    """Listed precisions exist (error), meet min_quality and run on some offered GPU (warnings: such
    a precision is not used); at least one listed (or, unlisted, catalog) precision meets min_quality
    and runs on an offered GPU (error)."""
    catalog = ctx.catalog
    offered = ctx.offered_gpus()
    if workload.precisions is None:
        candidates = list(catalog.precisions())
    else:
        candidates = []
        for j, name in enumerate(workload.precisions):
            spec = catalog.find_precision(name)
            path = f"{prefix}.precisions[{j}]"
            if spec is None:
                ctx.error(path, _unknown(ctx, "precision", name))
                continue
            candidates.append(spec)
            if spec.relative_accuracy < workload.min_quality:
                ctx.warn(
                    path,
                    f"{spec.id} (relative accuracy {spec.relative_accuracy:g}) is below min_quality "
                    f"{workload.min_quality:g} and will not be used; remove it or lower min_quality",
                )
            elif offered and not any(catalog.supports(g, spec) for g in offered.values()):
                able = sorted(g.id for g in catalog.gpus() if catalog.supports(g, spec))
                ctx.warn(
                    path,
                    f"no offered GPU ({', '.join(sorted(offered))}) can run {spec.id} (it needs "
                    f"{', '.join(spec.requires)}), so it will not be used; offer one of "
                    f"{', '.join(able) or 'none'} or remove it",
                )
        if not workload.precisions:
            ctx.error(f"{prefix}.precisions", "precisions is empty; list precisions or omit the key for all")
            return
    good = [s for s in candidates if s.relative_accuracy >= workload.min_quality]
    if candidates and not good:
        best = max(candidates, key=lambda s: s.relative_accuracy)
        ctx.error(
            f"{prefix}.min_quality",
            f"min_quality {workload.min_quality:g} excludes every precision considered "
            f"(the best, {best.id}, has relative accuracy {best.relative_accuracy:g}); "
            "lower min_quality or add a more accurate precision",
        )
    elif good and offered and not any(catalog.supports(g, s) for g in offered.values() for s in good):
        if workload.precisions is None:
            ctx.error(
                f"{prefix}.min_quality",
                "no offered GPU can run any precision meeting min_quality; lower it or offer other GPUs",
            )
        else:
            ctx.error(
                f"{prefix}.precisions",
                f"no offered GPU ({', '.join(sorted(offered))}) can run any listed precision meeting "
                f"min_quality ({', '.join(s.id for s in good)}); list another precision, lower "
                "min_quality or offer other GPUs",
            )


def check_engine(ctx: _Context, w: int, workload: Workload, prefix: str) -> None:
    """A named engine serves the listed precisions and the models and runs on an offered device."""
    if workload.engine is None:
        return
    catalog = ctx.catalog
    precisions = [catalog.find_precision(n) for n in workload.precisions or ()]
    names = [catalog.find_model(a.model) for a in workload.alternatives]
    models = [m for m in (ctx.models.get(w), *names) if m is not None]
    for key, message in engine_conflicts(
        planning_spec(workload.engine),
        [p.id if p is not None else None for p in precisions] if workload.precisions is not None else None,
        [(m.id, m.encoder_layers > 0) for m in models],
        [(g.id, g.vendor, str(g.kind.value)) for g in ctx.offered_gpus().values()],
    ):
        ctx.error(f"{prefix}.{key}", message)


def _eligible_sites(problem: Problem, placement: str) -> list[Site]:
    if placement == "centralized":
        return [s for s in problem.sites if s.kind == "central"]
    if placement == "edge":
        return [s for s in problem.sites if s.kind == "edge"]
    return list(problem.sites)


def _demand_regions(workload: Workload) -> list[str]:
    return [r for r, share in workload.demand.region_split.items() if share > 0]


def check_placement_and_latency(ctx: _Context, workload: Workload, prefix: str) -> None:
    """Some eligible site serves each region with demand, fast enough that TTFT can still be met:
    ttft_ms > min over eligible sites of latency_ms[region] (the network round trip alone)."""
    p = ctx.problem
    placement = workload.placement or p.policy.placement
    where = f"{prefix}.placement" if workload.placement else "policy.placement"
    kinds = {s.kind for s in p.sites}
    if placement == "edge" and "edge" not in kinds:
        ctx.error(where, "placement is edge but no site has kind: edge; add edge sites or change placement")
        return
    if placement == "centralized" and "central" not in kinds:
        ctx.error(
            where, "placement is centralized but every site is an edge site; add central sites or change it"
        )
        return
    if placement == "hybrid" and kinds != {"central", "edge"}:
        ctx.error(where, "placement is hybrid, which needs both central and edge sites; add the missing kind")
        return
    sites = _eligible_sites(p, placement)
    ttft = workload.slo.ttft_ms
    for region in _demand_regions(workload):
        if region not in ctx.region_ids:
            continue
        rtts = [(s.latency_ms[region], s.id) for s in sites if region in s.latency_ms]
        if not rtts:
            if any(region in s.latency_ms for s in p.sites):
                ctx.error(
                    where,
                    f"no {placement} site serves region {region!r}, which has demand for workload "
                    f"{workload.id!r}; add such a site or change placement",
                )
            continue  # a region no site lists is reported on user_regions
        rtt, site_id = min(rtts)
        if ttft is not None and ttft <= rtt:
            # Not invalid input but an infeasibility (exit 3 from `solve`, naming the TTFT rule),
            # unless serverless or shortfall may take that region's traffic.
            ctx.warn(
                f"{prefix}.slo.ttft_ms",
                f"ttft_ms {ttft:g} cannot be met by any site for workload {workload.id!r} in region "
                f"{region!r}: the nearest site ({site_id}) is {rtt:g} ms away round trip, leaving no "
                "time to compute the first token; only serverless or shortfall can take that traffic "
                f"(otherwise the problem is infeasible); raise ttft_ms well above {rtt:g} ms or add a "
                f"site closer to {region}",
            )


def check_residency(ctx: _Context, workload: Workload, prefix: str) -> None:
    """Residency rules can be satisfied: regions have jurisdictions, and sites exist in them."""
    p = ctx.problem
    residency = workload.residency
    if residency is None:
        return
    regions = {r.id: r for r in p.user_regions}
    path = f"{prefix}.residency"
    if residency == "user_region":
        for region_id in _demand_regions(workload):
            region = regions.get(region_id)
            if region is None:
                continue
            index = p.user_regions.index(region)
            if region.jurisdiction is None:
                ctx.error(
                    path,
                    f"residency user_region, but region {region_id!r} has no jurisdiction; set "
                    f"user_regions[{index}].jurisdiction (e.g. eu, us)",
                )
            elif not any(
                s.jurisdiction == region.jurisdiction and region_id in s.latency_ms for s in p.sites
            ):
                ctx.error(
                    path,
                    f"residency user_region: no site in jurisdiction {region.jurisdiction!r} serves "
                    f"region {region_id!r}; add one (set its jurisdiction and latency_ms)",
                )
        return
    known = sorted(
        {s.jurisdiction for s in p.sites if s.jurisdiction}
        | {r.jurisdiction for r in p.user_regions if r.jurisdiction}
    )
    for j, name in enumerate(residency):
        if name not in known:
            ctx.error(
                f"{path}[{j}]",
                f"unknown jurisdiction {name!r}; jurisdictions come from sites and user_regions "
                f"({', '.join(known) or 'none set'}){did_you_mean(name, known)}",
            )
    for region_id in _demand_regions(workload):
        if region_id in regions and not any(
            s.jurisdiction in residency and region_id in s.latency_ms for s in p.sites
        ):
            ctx.error(
                path,
                f"no site in jurisdiction {', '.join(residency)} serves region {region_id!r}, which has "
                f"demand for workload {workload.id!r}; add such a site or widen residency",
            )


def check_serverless(ctx: _Context, workload: Workload, prefix: str) -> None:
    """A serverless API that is allowed has a price."""
    sl = workload.serverless
    if sl.allowed and sl.usd_per_million_input_tokens == 0 and sl.usd_per_million_output_tokens == 0:
        ctx.warn(
            f"{prefix}.serverless",
            "serverless is allowed at a price of 0, so the optimizer will send it "
            "all the traffic it may; give usd_per_million_input/output_tokens",
        )


def check_policy(ctx: _Context) -> None:
    """Purchase options: at least one allowed; spot allowed only matters where spot is priced."""
    p = ctx.problem
    if p.purchase_options.spot is not None and not any(
        o.prices.spot is not None or o.catalog_prices is not None for s in p.sites for o in s.offers
    ):
        ctx.warn(
            "purchase_options.spot",
            "spot is allowed but no offer has a spot price (explicit or from "
            "catalog_prices), so no spot capacity can be bought",
        )
    if not allowed_options(p):
        ctx.error("purchase_options", "every purchase option is disallowed; allow at least on_demand")
