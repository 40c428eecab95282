"""What one request asks of a replica: prompt work, decode context, KV footprint.

Text: a prompt of I tokens and O generated tokens.
Speech (encoder-decoder, Whisper): `audio_seconds` of audio is cut into ceil(audio / 30 s) windows;
each window costs one encoder pass over `encoder_frames_per_30s` frames (1500 for Whisper) plus a
short decoder prompt, and the O output tokens are decoded against the window's cross-attention
cache (frames) plus the tokens generated so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.catalog.specs import ModelSpec
from optimizer.perf.step import attention_prefill_flops

SPEECH_PROMPT_TOKENS = 4.0
"""Decoder prompt tokens per audio window (start-of-transcript, language, task, timestamps)."""
AUDIO_WINDOW_S = 30.0


@dataclass(frozen=True, slots=True)
class RequestWork:
    """Per-request work in model units."""

    prefill_tokens: float
    """Tokens through the decoder stack before the first output token."""
    prefill_attn_flops: float
    """Causal self-attention FLOPs of the prompt (whole model)."""
    encoder_windows: float
    """Encoder passes (speech: 30 s windows; 0 for text)."""
    decode_context: float
    """Mean tokens each decode step attends to (self KV + cross-attention frames)."""
    kv_tokens_mean: float
    """Mean KV tokens a running sequence holds over its life."""
    kv_tokens_peak: float
    """KV tokens a sequence holds at its last token."""
    output_tokens: float
    input_tokens: float
    """Prompt tokens counted as input in throughput metrics (speech: decoder prompt tokens)."""
    output_dist: str = "fixed"
    """`fixed` or `exponential` output lengths (mean `output_tokens`)."""


def text_work(
    model: ModelSpec, input_tokens: float, output_tokens: float, output_dist: str = "fixed"
) -> RequestWork:
    """Text request: prefill I tokens, then O decode steps at mean context I + (O + 1) / 2.

    Exponential output lengths (`output_dist="exponential"`, mean O): a running sequence is
    length-biased (E[O^2] / E[O] = 2 O) and halfway through, so it holds I + O KV tokens and
    attends to I + O + 1/2 on average; the peak a scheduler must be able to hold is the p99 length
    O ln 100.

    >>> from optimizer.perf._examples import LLAMA_3_1_8B
    >>> w = text_work(LLAMA_3_1_8B, 128, 2048)
    >>> w.decode_context, w.kv_tokens_mean, w.kv_tokens_peak
    (1152.5, 1152.0, 2176.0)
    """
    i = max(float(input_tokens), 0.0)
    o = max(float(output_tokens), 1.0)
    if output_dist == "exponential":
        return RequestWork(
            prefill_tokens=i,
            prefill_attn_flops=attention_prefill_flops(model, i),
            encoder_windows=0.0,
            decode_context=i + o + 0.5,
            kv_tokens_mean=i + o,
            kv_tokens_peak=i + o * math.log(100.0),
            output_tokens=o,
            input_tokens=i,
            output_dist="exponential",
        )
    return RequestWork(
        prefill_tokens=i,
        prefill_attn_flops=attention_prefill_flops(model, i),
        encoder_windows=0.0,
        decode_context=i + (o + 1.0) / 2.0,
        kv_tokens_mean=i + o / 2.0,
        kv_tokens_peak=i + o,
        output_tokens=o,
        input_tokens=i,
    )


def speech_work(model: ModelSpec, audio_seconds: float, output_tokens: float) -> RequestWork:
    """Speech request: ceil(audio / 30 s) encoder windows, then O output tokens.

    Per window the decoder attends to `frames` cross-attention positions (cached like KV) plus
    its own prompt and generated tokens.

    >>> from optimizer.perf._examples import WHISPER_LARGE_V3
    >>> w = speech_work(WHISPER_LARGE_V3, 60.0, 300)
    >>> w.encoder_windows, w.kv_tokens_peak
    (2.0, 1654.0)
    """
    windows = float(max(1, math.ceil(max(audio_seconds, 0.0) / AUDIO_WINDOW_S)))
    frames = float(model.encoder_frames_per_30s or 1500)
    o = max(float(output_tokens), 1.0)
    per_window_out = o / windows
    prompt = SPEECH_PROMPT_TOKENS * windows
    return RequestWork(
        prefill_tokens=prompt,
        prefill_attn_flops=attention_prefill_flops(model, SPEECH_PROMPT_TOKENS) * windows,
        encoder_windows=windows,
        decode_context=frames + SPEECH_PROMPT_TOKENS + (per_window_out + 1.0) / 2.0,
        kv_tokens_mean=frames + SPEECH_PROMPT_TOKENS + per_window_out / 2.0,
        kv_tokens_peak=frames + SPEECH_PROMPT_TOKENS + per_window_out,
        output_tokens=o,
        input_tokens=prompt,
    )


def request_work(
    model: ModelSpec,
    input_tokens: float,
    output_tokens: float,
    audio_seconds: float | None = None,
    *,
    output_dist: str = "fixed",
) -> RequestWork:
    """Dispatch on the model: encoder-decoder models with audio take the speech path."""
    if model.encoder_layers > 0 and audio_seconds is not None:
        return speech_work(model, audio_seconds, output_tokens)
    return text_work(model, input_tokens, output_tokens, output_dist)
