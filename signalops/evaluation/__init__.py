"""Evaluating a compiled logic tree: three-valued logic, verdicts and the trace.

tree.py         node types, Kleene logic, Verdict, Evaluation and its Trace
_codegen.py     each compiled tree as one generated Python function
vectorized.py   the same tree over whole time series at once (numpy), for screens and sweeps
"""
