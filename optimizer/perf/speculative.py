"""Speculative decoding: a small draft model proposes g tokens, the target verifies them in one step.

Expected tokens emitted per verification round (Leviathan et al. 2023, i.i.d. acceptance a):

    tau = (1 - a^(g+1)) / (1 - a)        (= g + 1 when a = 1)

Cost of one round = g draft decode steps + one target step over g + 1 query tokens per sequence
(weights read once, g + 1 times the GEMM FLOPs and attention queries). Time per output token =
round / tau.
"""

from __future__ import annotations

from optimizer.perf.step import Replica


def expected_tokens_per_step(acceptance_rate: float, draft_tokens: int) -> float:
    """tau = (1 - a^(g+1)) / (1 - a): mean tokens emitted per verification round.

    >>> expected_tokens_per_step(0.0, 4), expected_tokens_per_step(1.0, 4)
    (1.0, 5.0)
    >>> round(expected_tokens_per_step(0.8, 4), 4)
    3.3616
    """
    a = min(max(acceptance_rate, 0.0), 1.0)
    g = max(int(draft_tokens), 0)
    if a >= 1.0:
        return float(g + 1)
    return (1.0 - a ** (g + 1)) / (1.0 - a)


def speculative_round_s(
    target: Replica,
    draft: Replica,
    draft_tokens: int,
    *,
    decode_seqs: float,
    context: float,
    prefill_tokens: float = 0.0,
    prefill_attn_flops: float = 0.0,
    encoder_windows: float = 0.0,
) -> float:
    """g draft steps + one target verify step of g + 1 tokens per sequence (seconds)."""
    g = max(int(draft_tokens), 0)
    d = draft.step(decode_seqs=decode_seqs, context=context).total_s if decode_seqs > 0 else 0.0
    t = target.step(
        decode_seqs=decode_seqs,
        context=context,
        query_per_seq=g + 1.0,
        prefill_tokens=prefill_tokens,
        prefill_attn_flops=prefill_attn_flops,
        encoder_windows=encoder_windows,
    ).total_s
    return g * d + t
