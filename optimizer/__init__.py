"""LLM-inference fleet planner: which GPUs, how many, at which precision, parallelism, purchase
option and placement, at the lowest monthly cost that meets every workload's targets."""

__version__ = "0.1.0"
