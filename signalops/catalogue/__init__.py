"""The metric catalogue: what a strategy may name, below both the language and the adapters.

    spec.py      Catalogue, SourceCatalogue, MetricSpec (with its unit and range), Param; durations
    builtin.py   the declarations of the five built-in sources (``BUILTIN``)

The compiler checks every name against it (and every threshold against its metric's range and
unit), adapters answer exactly what it declares, and ``why`` and the backtests read units and
formats from it, without importing an adapter.
"""
