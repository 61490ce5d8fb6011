"""Evaluating a compiled logic tree: three-valued logic, verdicts and the trace.

nodes.py        node and operand types (frozen values), Status and the UNKNOWN reason codes
_codegen.py     each compiled tree as one generated Python function (reads only ``nodes``)
trace_json.py   the one JSON format of a tree and its trace (audit records, explain --json)
tree.py         DecisionTree, Kleene logic, Verdict, Evaluation and its Trace
vectorized.py   the same tree over whole time series at once (numpy), for screens and sweeps

Imports run one way: nodes <- _codegen, trace_json <- tree <- vectorized. Nothing here imports
``rich``; drawing a tree is ``signalops.explain``'s job.
"""
