"""Sites and offers: which GPU is priced where, under which purchase options, in which instances."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.candidates.costs import offer_prices
from optimizer.catalog import Catalog
from optimizer.catalog.specs import GpuSpec
from optimizer.errors import InputError, InputIssue
from optimizer.model.data import OfferData, SiteData
from optimizer.schema.problem import Problem, PurchaseOption


@dataclass(frozen=True)
class OfferTable:
    """Every priced (site, GPU, purchase option), with instance sizes and supply limits."""

    sites: tuple[SiteData, ...]
    offers: tuple[OfferData, ...]
    gpus: dict[str, GpuSpec]
    """GPU id -> spec, for GPUs priced under at least one allowed purchase option somewhere."""
    instance_gpus: dict[tuple[str, str], int]
    """(site, GPU) -> GPUs per instance (every offer, priced or not)."""
    priced: frozenset[tuple[str, str]]
    """(site, GPU) pairs with at least one allowed purchase option."""
    supply: dict[tuple[str, str], int]
    """(site, GPU) -> most GPUs available."""
    gpu_ids_by_offer: dict[tuple[str, int], str]
    notes: list[str] = field(default_factory=list)

    def largest_instance(self, gpu: str) -> int:
        """Most GPUs per instance among the priced offers of `gpu` (0: none)."""
        return max(
            (n for (s, g), n in self.instance_gpus.items() if g == gpu and (s, g) in self.priced), default=0
        )

    def hosts(self, site: str, gpu: str, tp: int) -> bool:
        """The site prices `gpu` in instances of at least `tp` GPUs (a replica fits one instance)."""
        inst = self.instance_gpus.get((site, gpu))
        return inst is not None and (site, gpu) in self.priced and tp <= inst


def collect_offers(problem: Problem, catalog: Catalog) -> OfferTable:
    """One `OfferData` per (site, GPU, purchase option) the problem allows and prices.

    Committed and owned capacity behave identically in every constraint (same count in all
    periods, same supply and power), so of those only the cheapest per GPU-hour is kept."""
    po = problem.purchase_options
    offers: list[OfferData] = []
    supply: dict[tuple[str, str], int] = {}
    instance_gpus: dict[tuple[str, str], int] = {}
    sites: list[SiteData] = []
    gpus: dict[str, GpuSpec] = {}
    by_offer: dict[tuple[str, int], str] = {}
    notes: list[str] = []
    for si, site in enumerate(problem.sites):
        sites.append(
            SiteData(site.id, site.kind, site.sustainable_utilization, site.max_gpus, site.power_limit_kw)
        )
        for oi, offer in enumerate(site.offers):
            gpu = catalog.gpu(offer.gpu)
            where = f"sites[{si}].offers[{oi}]"
            if (site.id, gpu.id) in instance_gpus:
                raise InputError(
                    InputIssue(where, f"site {site.id} offers {gpu.id} twice; list each GPU once")
                )
            instance_gpus[(site.id, gpu.id)] = offer.gpus_per_instance
            by_offer[(site.id, oi)] = gpu.id
            prices = offer_prices(problem, catalog, offer, gpu, where)
            fixed = sorted(
                (sum(t.values()), opt.value) for opt, t in prices.items() if opt.fixed_over_periods
            )
            for _, dropped in fixed[1:]:
                notes.append(f"{site.id}/{gpu.id}: {dropped} dropped, {fixed[0][1]} is cheaper per GPU-hour")
                del prices[PurchaseOption(dropped)]
            for opt, terms in prices.items():
                offers.append(
                    OfferData(
                        site.id,
                        gpu.id,
                        opt.value,
                        terms,
                        offer.gpus_per_instance,
                        po.spot.availability if opt is PurchaseOption.SPOT and po.spot else 1.0,
                    )
                )
            if prices:
                gpus[gpu.id] = gpu
            if offer.max_gpus is not None:
                supply[(site.id, gpu.id)] = offer.max_gpus
    return OfferTable(
        sites=tuple(sites),
        offers=tuple(offers),
        gpus=gpus,
        instance_gpus=instance_gpus,
        priced=frozenset((o.site, o.gpu) for o in offers),
        supply=supply,
        gpu_ids_by_offer=by_offer,
        notes=notes,
    )
