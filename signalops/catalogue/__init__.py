"""The metric catalogue: what a strategy may name, below both the language and the adapters.

    spec.py      Catalogue, SourceCatalogue, MetricSpec, Param; durations and thresholds
    builtin.py   the declarations of the five built-in sources (``BUILTIN``)

The compiler checks every name against it, adapters answer exactly what it declares, and
``why`` and the backtests read units and formats from it, without importing an adapter.
"""
