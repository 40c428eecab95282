"""Prices: USD per GPU-hour of each purchase option an offer has, split into named cost terms."""

from __future__ import annotations

from optimizer.catalog import Catalog
from optimizer.catalog.specs import GpuSpec
from optimizer.errors import InputError, InputIssue
from optimizer.schema.problem import HOURS_PER_MONTH, GpuOffer, Problem, PurchaseOption


def annuity_factor(rate: float, years: float) -> float:
    """Capital recovery factor per year: r / (1 - (1 + r)^-n); 1/n when r = 0.

    >>> round(annuity_factor(0.0, 4), 4)
    0.25
    >>> round(annuity_factor(0.08, 4), 4)
    0.3019
    """
    if rate <= 0.0:
        return 1.0 / years
    return float(rate / (1.0 - (1.0 + rate) ** -years))


def owned_capital_usd_per_gpu_hour(
    capex_usd: float, rate: float, years: float, hosting_usd_month: float
) -> float:
    """Monthly capital charge spread over the month's hours, plus hosting:
    (capex x annuity(rate, years) / 12 + hosting) / 730.

    >>> round(owned_capital_usd_per_gpu_hour(35040.0, 0.0, 4.0, 0.0), 3)
    1.0
    """
    return (capex_usd * annuity_factor(rate, years) / 12.0 + hosting_usd_month) / HOURS_PER_MONTH


def owned_power_usd_per_gpu_hour(tdp_w: float, load_fraction: float, pue: float, usd_per_kwh: float) -> float:
    """Electricity per GPU-hour: TDP (kW) x average load fraction x PUE x price per kWh.

    >>> round(owned_power_usd_per_gpu_hour(700.0, 0.7, 1.3, 0.10), 4)
    0.0637
    """
    return tdp_w / 1000.0 * load_fraction * pue * usd_per_kwh


def hours_per_month(hours_per_day: float) -> float:
    """Hours in an average month spent in a period lasting `hours_per_day` each day: h x 730 / 24."""
    return hours_per_day * HOURS_PER_MONTH / 24.0


def offer_prices(
    problem: Problem, catalog: Catalog, offer: GpuOffer, gpu: GpuSpec, where: str
) -> dict[PurchaseOption, dict[str, float]]:
    """Cost terms (USD per GPU-hour) for every purchase option this offer has and the problem allows.

    Explicit prices win over the catalog's reference prices; committed terms without a price use
    on-demand x (1 - discount); owned capacity is capital (annuity) plus hosting plus power."""
    po = problem.purchase_options
    explicit = offer.prices
    out: dict[PurchaseOption, dict[str, float]] = {}

    def catalog_price(kind: str) -> float | None:
        ref = offer.catalog_prices
        if ref is None:
            return None
        rows = catalog.prices_for(
            ref.provider,
            ref.region,
            gpu.id,
            kind,
            gpus_per_instance=offer.gpus_per_instance,
            instance_type=ref.instance_type,
        )
        return rows[0].usd_per_gpu_hour if rows else None

    on_demand = explicit.on_demand if explicit.on_demand is not None else catalog_price("on_demand")
    if po.on_demand and on_demand is not None:
        out[PurchaseOption.ON_DEMAND] = {"on_demand": on_demand}
    spot = explicit.spot if explicit.spot is not None else catalog_price("spot")
    if po.spot is not None and spot is not None:
        out[PurchaseOption.SPOT] = {"spot": spot}
    for opt, terms, price in (
        (PurchaseOption.COMMITTED_1Y, po.committed_1y, explicit.committed_1y),
        (PurchaseOption.COMMITTED_3Y, po.committed_3y, explicit.committed_3y),
    ):
        if terms is None:
            continue
        if price is None and terms.discount_vs_on_demand is not None and on_demand is not None:
            price = on_demand * (1.0 - terms.discount_vs_on_demand)
        if price is not None:
            out[opt] = {"committed": price}
    if po.owned is not None and offer.owned:
        capex = offer.capital_usd_per_gpu if offer.capital_usd_per_gpu is not None else gpu.purchase_price_usd
        if capex is None:
            raise InputError(
                InputIssue(
                    f"{where}.capital_usd_per_gpu",
                    f"owned {gpu.id} needs capital_usd_per_gpu (the catalog has no price)",
                )
            )
        o = po.owned
        out[PurchaseOption.OWNED] = {
            "owned_capital": owned_capital_usd_per_gpu_hour(
                capex, o.annual_interest_rate, o.lifetime_years, o.hosting_usd_per_gpu_month
            ),
            "power": owned_power_usd_per_gpu_hour(
                gpu.tdp_w, o.average_power_fraction, o.pue, o.power_usd_per_kwh
            ),
        }
    return out
