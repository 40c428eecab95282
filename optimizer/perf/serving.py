"""Operating points of one replica: continuous batching (open and closed loop), static batching.

Continuous batching, steady state with B running sequences (each emitting tau tokens per round,
tau = 1 without speculation) and O output tokens per request:

    prefills per round   p = B x tau / O                 (a finished sequence is replaced)
    round time           T(B) = step(B decodes + p prompts)   (prefill interference)
    request rate         lambda(B) = B x tau / (O x T(B))
    TPOT                 T(B) / tau

TTFT = own prefill with the running batch riding along (chunked) + M/D/1 wait for the prefill
server + half a round (the step in flight when the request arrives):

    rho  = lambda(B) x s_c                              (arrival-rate load, s_c = a prompt's prefill
                                                        compute time: monotone in load)
    wait = rho x s / (2 (1 - rho))                     (M/D/1, s = prefill time alone)
    TTFT = s_shared(B) + wait + (1 - e^-B) x T(B) / 2

Poisson arrivals also queue for a free sequence slot: the replica is an M/M/c queue with
c = max_batch slots, each held for a request's life h = prefill + (O - 1) x TPOT, offered load B:

    admission wait = C(c, B) x h / (c - B)             (Erlang C; Halfin-Whitt for c > 200)

negligible at moderate load and unbounded as B -> c, so TTFT rises sharply near saturation and a
TTFT target puts the operating point below the offline maximum.

Tails (p90, p99): each wait is zero with probability P_wait and exponential otherwise, so its
quantile is (E[W] / P_wait) x ln(P_wait / (1 - p)) (0 when P_wait <= 1 - p); TTFT_p adds the
quantiles of its parts (the step in flight: p x T), and is never below the mean. TPOT_p is per
request (MLPerf / vLLM "TPOT"): over its m = O - 1 steps a request sees prefill-carrying steps
(t1) with probability f and plain steps (t0) otherwise, and a batch that fluctuates around B
(M/G/inf: the variance of its lifetime mean is about 2B/3):

    Var = f (1 - f) (t1 - t0)^2 / m + (dT/dB)^2 x 2B/3,   TPOT_p = TPOT + z_p sqrt(Var)

(z_90 = 1.2816, z_99 = 2.3263), so p99 >= p90 >= mean.

Closed loop with C clients: C = lambda x (TTFT + (O - 1) x TPOT) (Little's law); beyond the
memory limit the extra clients queue and TTFT absorbs the wait.
Static batching of B: prefill all B prompts, then (O - 1) decode steps at mean context; with
exponential output lengths the batch shrinks as sequences finish and runs until the longest
ends: decode time = sum over n = 1..B of (O / n) x t(n) (expected order statistics).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Literal

from optimizer.perf.memory import MemoryPlan, memory_plan, weight_bytes
from optimizer.perf.speculative import expected_tokens_per_step, speculative_round_s
from optimizer.perf.step import Replica
from optimizer.perf.workload import RequestWork

Percentile = Literal["mean", "p90", "p99"]
"""Statistic a latency target is stated for."""
PERCENTILES: tuple[Percentile, ...] = ("mean", "p90", "p99")
Z_SCORE: dict[str, float] = {"p90": 1.2816, "p99": 2.3263}
"""Standard-normal quantiles used for per-request TPOT tails."""
TAIL: dict[str, float] = {"p90": 0.10, "p99": 0.01}


def wait_quantile_s(mean_s: float, p_wait: float, tail: float) -> float:
    """Quantile of a wait that is 0 with probability 1 - p_wait and exponential otherwise.

    q = (mean / p_wait) x ln(p_wait / tail) when p_wait > tail, else 0 (tail = 1 - percentile).

    >>> wait_quantile_s(0.1, 0.5, 0.5), round(wait_quantile_s(0.1, 1.0, 0.01), 4)
    (0.0, 0.4605)
    """
    if mean_s <= 0 or p_wait <= tail:
        return 0.0
    if math.isinf(mean_s):
        return math.inf
    return mean_s / p_wait * math.log(p_wait / tail)


def erlang_c(servers: float, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (c servers, offered load a = lambda / mu).

    Exact through the Erlang-B recursion B_k = a B_{k-1} / (k + a B_{k-1}),
    C = B_c / (1 - (a / c)(1 - B_c)) for c <= 200 (linear in c between integers); the Halfin-Whitt
    limit C = 1 / (1 + beta Phi(beta) / phi(beta)), beta = (c - a) / sqrt(c), beyond. 1 when a >= c.

    >>> round(erlang_c(1, 0.5), 6), round(erlang_c(2, 1.0), 6)
    (0.5, 0.333333)
    """
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    if servers > 200:
        beta = (servers - offered) / math.sqrt(servers)
        if beta > 8.0:
            return 0.0
        phi = math.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
        cdf = 0.5 * (1.0 + math.erf(beta / math.sqrt(2.0)))
        return 1.0 / (1.0 + beta * cdf / phi)

    def exact(c: int) -> float:
        if offered >= c:
            return 1.0
        b = 1.0
        for k in range(1, c + 1):
            b = offered * b / (k + offered * b)
        return b / (1.0 - offered / c * (1.0 - b))

    lo = max(math.floor(servers), 1)
    hi = lo + 1
    frac = servers - lo
    return exact(lo) if frac <= 0 else (1.0 - frac) * exact(lo) + frac * exact(hi)


def admission_wait_s(slots: float, busy: float, hold_s: float) -> tuple[float, float]:
    """(mean wait, probability of waiting) for a free sequence slot: M/M/c with c = slots, offered
    load busy, each slot held hold_s: E[W] = C(c, busy) x hold / (c - busy); inf when busy >= c.

    >>> admission_wait_s(100, 10, 5.0)[0] < 1e-60, round(admission_wait_s(100, 95, 5.0)[0], 3)
    (True, 0.506)
    """
    if busy <= 0 or slots <= 0:
        return 0.0, 0.0
    if busy >= slots:
        return math.inf, 1.0
    c = erlang_c(slots, busy)
    return c * hold_s / (slots - busy), c


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
    ttft_p90_s: float | None = None
    """TTFT tails (None: equal to the mean, e.g. one static batch)."""
    ttft_p99_s: float | None = None
    tpot_p90_s: float | None = None
    """Per-request TPOT tails (None: equal to the mean)."""
    tpot_p99_s: float | None = None
    admission_wait_s: float = 0.0
    """Mean wait for a free sequence slot (part of ttft_s; inf at the offline maximum)."""
    ttft_admitted_s: float | None = None
    """Mean TTFT once a slot is free (ttft_s without the admission wait; None: equal to ttft_s)."""

    def ttft_at(self, percentile: Percentile = "mean") -> float:
        """TTFT at a statistic (seconds)."""
        if percentile == "p90" and self.ttft_p90_s is not None:
            return self.ttft_p90_s
        if percentile == "p99" and self.ttft_p99_s is not None:
            return self.ttft_p99_s
        return self.ttft_s

    def tpot_at(self, percentile: Percentile = "mean") -> float:
        """Per-request TPOT at a statistic (seconds)."""
        if percentile == "p90" and self.tpot_p90_s is not None:
            return self.tpot_p90_s
        if percentile == "p99" and self.tpot_p99_s is not None:
            return self.tpot_p99_s
        return self.tpot_s


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
            pp=self.rep.pp,
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
            return self.rep.step(
                decode_seqs=kw["decode_seqs"],
                context=kw["context"],
                prefill_tokens=kw["prefill_tokens"],
                prefill_attn_flops=kw["prefill_attn_flops"],
                encoder_windows=kw["encoder_windows"],
            ).total_s
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

    @functools.cached_property
    def prefill_compute_s(self) -> float:
        """Compute time of one prompt's prefill (`Replica.prefill_compute_s`): the prefill server's
        service time in its load rho = lambda x prefill_compute_s."""
        w = self.work
        return self.rep.prefill_compute_s(
            tokens_per_request=w.prefill_tokens,
            attn_flops_per_request=w.prefill_attn_flops,
            encoder_windows_per_request=w.encoder_windows,
        )

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
    def steady(self, batch: float, tails: bool = True) -> OperatingPoint:
        """Steady state with `batch` running sequences (Poisson arrivals at the implied rate).

        Batches beyond the token budget's limit behave as that limit (`token_budget_batch`).
        TTFT = own prefill (batch riding along) + M/D/1 prefill wait + admission wait + half a
        step in flight; tails as in the module docstring (skipped when `tails` is False: the
        point's p90/p99 then equal its means)."""
        b = min(max(batch, 0.0), self.token_budget_batch)
        o = self.work.output_tokens
        prefills = b * self.tau / o
        t_dec = self.round_s(b, 0.0)
        t = self.round_s(b, prefills)
        rate = b * self.tau / (o * t) if t > 0 else 0.0
        rho = rate * self.prefill_compute_s
        s_alone = self.prefill_alone_s
        w1 = md1_wait_s(rho, s_alone)
        own = self.prefill_s(b)
        busy_frac = 1.0 - math.exp(-b)
        hold = own + max(o - 1.0, 0.0) * t / self.tau
        w2, p2 = admission_wait_s(float(self.max_batch), b, hold)
        admitted = own + w1 + busy_frac * t / 2.0
        ttft = admitted + w2
        point = self._point(b, rate, t, t_dec, ttft)
        if not tails:
            return replace(point, admission_wait_s=w2, ttft_admitted_s=admitted)
        out: dict[str, float] = {}
        tpot_sd = self._tpot_sd(b, prefills, t)
        for name, tail in TAIL.items():
            q1 = wait_quantile_s(w1, rho, tail)
            q2 = wait_quantile_s(w2, p2, tail)
            out["ttft_" + name] = max(ttft, own + q1 + q2 + busy_frac * t * (1.0 - tail))
            out["tpot_" + name] = point.tpot_s + Z_SCORE[name] * tpot_sd
        return replace(
            point,
            ttft_p90_s=out["ttft_p90"],
            ttft_p99_s=out["ttft_p99"],
            tpot_p90_s=out["tpot_p90"],
            tpot_p99_s=out["tpot_p99"],
            admission_wait_s=w2,
            ttft_admitted_s=admitted,
        )

    def _tpot_sd(self, batch: float, prefills: float, round_s: float) -> float:
        """Standard deviation of one request's mean TPOT (module docstring): prefill-carrying
        steps (binomial over its O - 1 steps) and batch fluctuation (dT/dB)^2 x 2B/3."""
        m = max(self.work.output_tokens - 1.0, 1.0)
        var = 0.0
        if prefills > 0:
            tokens = self.work.prefill_tokens
            per_step = max(prefills, 1.0)
            if tokens > 0:
                per_step = min(per_step, self.step_token_budget / tokens)
            f = min(prefills / per_step, 1.0)
            t0 = self._step_s(batch, 0.0)
            t1 = self._step_s(batch, per_step)
            var += f * (1.0 - f) * (t1 - t0) ** 2 / m
        if batch > 0:
            h = max(0.05 * batch, 0.5)
            lo, hi = max(batch - h, 0.0), batch + h
            slope = (
                self.round_s(hi, hi * self.tau / self.work.output_tokens)
                - self.round_s(lo, lo * self.tau / self.work.output_tokens)
            ) / (hi - lo)
            var += max(slope, 0.0) ** 2 * 2.0 * batch / 3.0
        return math.sqrt(var) / self.tau

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
            if self.steady(mid, tails=False).requests_per_s < rate:
                lo = mid
            else:
                hi = mid
        return self.steady(hi)

    def best_meeting(
        self, ttft_s: float | None, tpot_s: float | None, percentile: Percentile = "mean"
    ) -> OperatingPoint | None:
        """Highest-rate steady state with TTFT <= ttft_s and TPOT <= tpot_s at `percentile`
        (None: unconstrained).

        Both latencies grow with the batch, so the feasible batches form an interval [0, B*]."""

        def ok(p: OperatingPoint) -> bool:
            return (ttft_s is None or p.ttft_at(percentile) <= ttft_s) and (
                tpot_s is None or p.tpot_at(percentile) <= tpot_s
            )

        top = self.max_throughput()
        if ok(top):
            return top
        lo, hi = 0.0, float(self.max_batch)
        need_tails = percentile != "mean"
        if not ok(self.steady(min(1e-3, hi), need_tails)):
            return None
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if ok(self.steady(mid, need_tails)):
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
            # arrival-rate load, kept below the round's prefill share so the damped fixed point
            # never passes through an unstable (rho >= 1) transient: a closed loop self-regulates
            share = max(0.0, (t_new - t_dec) / t_new) if t_new > 0 else 0.0
            rho = min(rate * others * self.prefill_compute_s, share)
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
        if self.work.output_dist == "exponential":
            decode, tpot = self.shrinking_batch_decode_s(int(b))
            e2e = ttft + decode
            rate = b / e2e
            return OperatingPoint(b, rate, rate * o, rate * self.work.input_tokens, ttft, tpot, e2e, 0.0)
        t = self.round_s(b, 0.0)
        e2e = ttft + max(o - 1.0, 0.0) * t / self.tau
        rate = b / e2e
        return OperatingPoint(b, rate, rate * o, rate * self.work.input_tokens, ttft, t / self.tau, e2e, 0.0)

    def shrinking_batch_decode_s(self, batch: int) -> tuple[float, float]:
        """(decode time, token-weighted mean step time) of one static batch with exponential output
        lengths (mean O): between the (B - n)-th and (B - n + 1)-th finishes n sequences run, on
        average O / n steps, so

            time = sum_{n=1..B} (O / n) t(n) / tau,   mean step = sum_{n=1..B} t(n) / (B tau)

        (summed exactly up to 256 running sequences, beyond on a geometric grid with t(n) linear
        between grid points)."""
        o = self.work.output_tokens
        ns = list(range(1, min(batch, 256) + 1))
        n = ns[-1]
        while n < batch:
            n = min(batch, int(n * 1.25) + 1)
            ns.append(n)
        ts = [self.round_s(float(k), 0.0) for k in ns]
        time = 0.0
        steps = 0.0
        prev_n, prev_t = 0, 0.0
        for k, t in zip(ns, ts, strict=True):
            if k - prev_n == 1 or prev_n == 0:
                time += o / k * t
                steps += t
            else:  # linear t over (prev_n, k]: sum of t(m) / m and of t(m)
                for m in range(prev_n + 1, k + 1):
                    tm = prev_t + (t - prev_t) * (m - prev_n) / (k - prev_n)
                    time += o / m * tm
                    steps += tm
            prev_n, prev_t = k, t
        return time / self.tau, steps / (batch * self.tau)
