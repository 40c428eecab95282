"""Operating points of one replica: continuous batching (open and closed loop), static batching.

Continuous batching, steady state with B running sequences (each emitting tau tokens per round,
tau = 1 without speculation) and O output tokens per request:

    prefills per round   p = B x tau / O                 (a finished sequence is replaced)
    round time           T(B) = step(B decodes + p prompts)   (prefill interference)
    request rate         lambda(B) = B x tau / (O x T(B))
    TPOT                 T(B) / tau

TTFT = own prefill with the running batch riding along (chunked) + M/D/1 wait for the prefill
server + half a round (the step in flight when the request arrives):

    rho  = (T(B) - T_decode_only(B)) / T(B)             (share of GPU time spent on prefill)
    wait = rho x s / (2 (1 - rho))                     (M/D/1, s = prefill time alone)
    TTFT = s_shared(B) + wait + (1 - e^-B) x T(B) / 2

Closed loop with C clients: C = lambda x (TTFT + (O - 1) x TPOT) (Little's law); beyond the
memory limit the extra clients queue and TTFT absorbs the wait.
Static batching of B: prefill all B prompts, then (O - 1) decode steps at mean context.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from optimizer.perf.memory import MemoryPlan, memory_plan, weight_bytes
from optimizer.perf.speculative import expected_tokens_per_step, speculative_round_s
from optimizer.perf.step import Replica
from optimizer.perf.workload import RequestWork


def md1_wait_s(utilization: float, service_s: float) -> float:
    """Mean queueing wait of an M/D/1 server: rho x s / (2 (1 - rho)); inf at rho >= 1.

    >>> md1_wait_s(0.5, 0.1)
    0.05
    """
    if utilization <= 0:
        return 0.0
    if utilization >= 1.0:
        return math.inf
    return utilization * service_s / (2.0 * (1.0 - utilization))


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Predicted behaviour of one replica at one load."""

    batch: float
    """Mean running (decoding) sequences."""
    requests_per_s: float
    output_tokens_per_s: float
    input_tokens_per_s: float
    ttft_s: float
    tpot_s: float
    e2e_s: float
    prefill_share: float
    overloaded: bool = False


@dataclass(frozen=True)
class SpecSetup:
    draft: Replica
    acceptance_rate: float
    draft_tokens: int


@dataclass(frozen=True)
class Server:
    """One replica serving one request shape (optionally with a speculative draft)."""

    rep: Replica
    work: RequestWork
    spec: SpecSetup | None = None

    # -- memory -------------------------------------------------------------------------------
    @functools.cached_property
    def memory(self) -> MemoryPlan:
        extra_w = 0.0
        extra_kv = 0.0
        if self.spec is not None:
            d = self.spec.draft
            extra_w = weight_bytes(d.model, d.precision)
            extra_kv = d.kv_per_token_per_gpu * d.tp
        return memory_plan(
            self.rep.model,
            self.rep.gpu,
            self.rep.precision,
            self.rep.tp,
            self.rep.params,
            kv_bytes=self.rep.kv_bytes,
            extra_weight_bytes=extra_w,
            extra_kv_bytes_per_token=extra_kv,
            dp=self.rep.dp,
        )

    @functools.cached_property
    def fits(self) -> bool:
        """Weights, reserve and one full-length sequence fit on every rank."""
        return self.max_batch_static >= 1

    @functools.cached_property
    def max_batch(self) -> int:
        """Continuous batching: running sequences hold their mean KV (staggered lifetimes)."""
        if self.memory.kv_budget_bytes_per_gpu <= 0:
            return 0
        blk = self.rep.params.kv_block_tokens
        n = self.memory.max_sequences(self.work.kv_tokens_mean + blk / 2.0, blk)
        n = min(n, self.seq_cap, max(1, math.ceil(self.token_budget_batch)))
        return n if self.memory.max_sequences(self.work.kv_tokens_peak, blk) >= 1 else 0

    @functools.cached_property
    def seq_cap(self) -> int:
        """Scheduler cap on running sequences: max_num_seqs per attention group x dp groups."""
        return self.rep.params.max_num_seqs * self.rep.dp

    @functools.cached_property
    def step_token_budget(self) -> float:
        """Tokens one step may carry: max_num_tokens per attention group x dp groups."""
        return float(self.rep.params.max_num_tokens * self.rep.dp)

    @functools.cached_property
    def token_budget_batch(self) -> float:
        """Most running sequences the per-step token budget sustains in steady state.

        Every step carries each running sequence's q query tokens (1, or g + 1 when speculating)
        plus the prompts that replace finished sequences, B x tau / O x I tokens per step:
        B (q + tau I / O) <= max_num_tokens. Beyond it admissions are prefill-bound and extra
        sequences cannot be kept running."""
        q = 1.0 if self.spec is None else self.spec.draft_tokens + 1.0
        per_seq = q + self.tau * self.work.prefill_tokens / self.work.output_tokens
        return self.step_token_budget / per_seq

    @functools.cached_property
    def max_batch_static(self) -> int:
        """Static batching: every sequence reaches its peak length together."""
        if self.memory.kv_budget_bytes_per_gpu <= 0:
            return 0
        blk = self.rep.params.kv_block_tokens
        return min(self.memory.max_sequences(self.work.kv_tokens_peak, blk), self.seq_cap)

    # -- step times -----------------------------------------------------------------------------
    @functools.cached_property
    def tau(self) -> float:
        if self.spec is None:
            return 1.0
        return expected_tokens_per_step(self.spec.acceptance_rate, self.spec.draft_tokens)

    def _step_s(self, batch: float, prefill_requests: float) -> float:
        """One step of `batch` decoding sequences carrying `prefill_requests` prompts."""
        w = self.work
        kw = {
            "decode_seqs": batch,
            "context": w.decode_context,
            "prefill_tokens": prefill_requests * w.prefill_tokens,
            "prefill_attn_flops": prefill_requests * w.prefill_attn_flops,
            "encoder_windows": prefill_requests * w.encoder_windows,
        }
        if self.spec is None:
            return self.rep.step(**kw).total_s
        return speculative_round_s(self.rep, self.spec.draft, self.spec.draft_tokens, **kw)

    def round_s(self, batch: float, prefills: float = 0.0) -> float:
        """Mean decode round of `batch` sequences while `prefills` prompts per round arrive.

        Prompts are not spread thinly over every step: a step that carries prefill carries
        r = min(max(prefills, 1), budget / I) prompts (one whole prompt when they are sparse, all
        of the round's prompts when many queue, at most the token budget), so n = prefills / r
        steps per round carry prefill and

            T = t(B, 0) + n x (t(B, r) - t(B, 0)).
        """
        base = self._step_s(batch, 0.0)
        if prefills <= 0:
            return base
        tokens = self.work.prefill_tokens
        budget = self.step_token_budget
        per_step = max(prefills, 1.0)
        if tokens > 0:
            per_step = min(per_step, budget / tokens)
        n = prefills / per_step
        return base + n * (self._step_s(batch, per_step) - base)

    def prefill_s(self, decode_seqs: float = 0.0, requests: float = 1.0) -> float:
        w = self.work
        return self.rep.prefill_s(
            tokens_per_request=w.prefill_tokens,
            requests=requests,
            attn_flops_per_request=w.prefill_attn_flops,
            encoder_windows_per_request=w.encoder_windows,
            decode_seqs=decode_seqs,
            context=w.decode_context,
        )

    @functools.cached_property
    def prefill_alone_s(self) -> float:
        return self.prefill_s(0.0)

    def _point(
        self,
        batch: float,
        rate: float,
        round_s: float,
        decode_only_s: float,
        ttft_s: float,
        overloaded: bool = False,
    ) -> OperatingPoint:
        w = self.work
        tpot = round_s / self.tau
        share = max(0.0, (round_s - decode_only_s) / round_s) if round_s > 0 else 0.0
        return OperatingPoint(
            batch=batch,
            requests_per_s=rate,
            output_tokens_per_s=rate * w.output_tokens,
            input_tokens_per_s=rate * w.input_tokens,
            ttft_s=ttft_s,
            tpot_s=tpot,
            e2e_s=ttft_s + max(w.output_tokens - 1.0, 0.0) * tpot,
            prefill_share=share,
            overloaded=overloaded,
        )

    # -- continuous batching, open loop -------------------------------------------------------
    def steady(self, batch: float) -> OperatingPoint:
        """Steady state with `batch` running sequences (Poisson arrivals at the implied rate).

        Batches beyond the token budget's limit behave as that limit (`token_budget_batch`)."""
        b = min(max(batch, 0.0), self.token_budget_batch)
        o = self.work.output_tokens
        prefills = b * self.tau / o
        t_dec = self.round_s(b, 0.0)
        t = self.round_s(b, prefills)
        rate = b * self.tau / (o * t) if t > 0 else 0.0
        rho = max(0.0, (t - t_dec) / t) if t > 0 else 0.0
        wait = md1_wait_s(rho, self.prefill_alone_s)
        ttft = self.prefill_s(b) + wait + (1.0 - math.exp(-b)) * t / 2.0
        return self._point(b, rate, t, t_dec, ttft)

    def max_throughput(self) -> OperatingPoint:
        """All requests queued: the largest batch that fits (offline / QPS = inf)."""
        return self.steady(float(self.max_batch))

    def at_rate(self, rate: float) -> OperatingPoint:
        """Poisson arrivals at `rate` requests/s: solve lambda(B) = rate for B (bisection)."""
        top = self.max_throughput()
        if rate >= top.requests_per_s:
            return OperatingPoint(
                top.batch,
                top.requests_per_s,
                top.output_tokens_per_s,
                top.input_tokens_per_s,
                math.inf,
                top.tpot_s,
                math.inf,
                top.prefill_share,
                overloaded=rate > top.requests_per_s,
            )
        lo, hi = 0.0, float(self.max_batch)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self.steady(mid).requests_per_s < rate:
                lo = mid
            else:
                hi = mid
        return self.steady(hi)

    def best_meeting(self, ttft_s: float | None, tpot_s: float | None) -> OperatingPoint | None:
        """Highest-rate steady state with TTFT <= ttft_s and TPOT <= tpot_s (None: unconstrained).

        Both latencies grow with the batch, so the feasible batches form an interval [0, B*]."""

        def ok(p: OperatingPoint) -> bool:
            return (ttft_s is None or p.ttft_s <= ttft_s) and (tpot_s is None or p.tpot_s <= tpot_s)

        top = self.max_throughput()
        if ok(top):
            return top
        lo, hi = 0.0, float(self.max_batch)
        if not ok(self.steady(min(1e-3, hi))):
            return None
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if ok(self.steady(mid)):
                lo = mid
            else:
                hi = mid
        best = self.steady(lo)
        return best if best.requests_per_s > 0 else None

    # -- continuous batching, closed loop -----------------------------------------------------
    def closed_loop(self, clients: float) -> OperatingPoint:
        """`clients` requests always in flight (each re-issued as soon as it completes)."""
        c = max(clients, 1.0)
        o = self.work.output_tokens
        cap = float(self.max_batch)
        if c > cap and cap >= 1:
            top = self.max_throughput()
            e2e = c / top.requests_per_s
            ttft = max(e2e - max(o - 1.0, 0.0) * top.tpot_s, self.prefill_s(top.batch))
            return OperatingPoint(
                top.batch,
                top.requests_per_s,
                top.output_tokens_per_s,
                top.input_tokens_per_s,
                ttft,
                top.tpot_s,
                ttft + max(o - 1.0, 0.0) * top.tpot_s,
                top.prefill_share,
            )
        others = (c - 1.0) / c
        ttft = self.prefill_alone_s
        t_dec = self.round_s(c, 0.0)
        t = t_dec
        rate = 0.0
        decoding = c
        for _ in range(100):
            dec_time = max(o - 1.0, 0.0) * t / self.tau
            cycle = ttft + dec_time
            rate = c / cycle
            decoding = rate * dec_time
            t_dec = self.round_s(decoding, 0.0)
            prefills = rate * others * t
            t_new = self.round_s(decoding, prefills)
            rho = max(0.0, (t_new - t_dec) / t_new) if t_new > 0 else 0.0
            b_seen = decoding * others
            ttft_new = (
                self.prefill_s(b_seen)
                + md1_wait_s(rho, self.prefill_alone_s)
                + (1.0 - math.exp(-b_seen)) * t_new / 2.0
            )
            if abs(t_new - t) < 1e-9 * max(t, 1e-9) and abs(ttft_new - ttft) < 1e-9 * max(ttft, 1e-9):
                t, ttft = t_new, ttft_new
                break
            t = 0.5 * (t + t_new)
            ttft = 0.5 * (ttft + ttft_new)
        return self._point(decoding, c / (ttft + max(o - 1.0, 0.0) * t / self.tau), t, t_dec, ttft)

    # -- static batching ------------------------------------------------------------------------
    def static_batch(self, batch: int) -> OperatingPoint:
        """One static batch: prefill all prompts, then (O - 1) rounds together; rate = B / e2e."""
        b = float(max(batch, 1))
        o = self.work.output_tokens
        ttft = self.prefill_s(0.0, requests=b)
        t = self.round_s(b, 0.0)
        e2e = ttft + max(o - 1.0, 0.0) * t / self.tau
        rate = b / e2e
        return OperatingPoint(b, rate, rate * o, rate * self.work.input_tokens, ttft, t / self.tau, e2e, 0.0)
