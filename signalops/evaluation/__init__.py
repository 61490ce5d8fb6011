"""Evaluating a compiled logic tree: three-valued logic, verdicts and the trace.

nodes.py        node and operand types (frozen values), Status and the UNKNOWN reason codes
weighted.py     weighted votes: each child's weight (fixed or hit rate) and the Kleene vote
_codegen.py     each compiled tree as one generated Python function (reads ``nodes``, ``weighted``)
trace_json.py   the one JSON format of a tree and its trace (audit records, explain --json)
tree.py         DecisionTree, Kleene logic, Verdict, Evaluation and its Trace
hit_rate.py     the ``hit_rate`` source: a condition's hit rate over the history before as_of
vectorized.py   the same tree over whole time series at once (numpy), for screens and sweeps

Imports run one way: nodes <- weighted <- _codegen, trace_json <- tree <- hit_rate <- vectorized.
Nothing here imports ``rich``; drawing a tree is ``signalops.explain``'s job.
"""
