"""What-if analysis: overrides on any problem, scenario sweeps, budget and latency frontiers, plan diffs.

The CLI (`optimizer solve --set`, `optimizer sweep`, `optimizer frontier`, `optimizer diff`) is a thin
layer over this package; the Python API is `optimizer.whatif.sweep` (also `optimizer.sweep`).
"""
