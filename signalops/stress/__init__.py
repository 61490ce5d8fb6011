"""Stress scenarios: a strategy replayed through historical crises and synthetic shocks.

    signalops stress strategies/banking_crisis_dip.yaml

A scenario is a small YAML file (``scenarios/*.yaml``, or any file a user writes; the format is
``schemas/stress.schema.json``): a window of recorded history, and optionally shocks applied to
the data replayed in it (a price gap, a prediction-market jump, a data outage, a venue that
rejects orders). Each runs through ``signalops.backtest.runner.run_backtest``: the same
pipeline, risk gate, paper broker and audit log as every backtest.

- ``model``: scenarios and shocks as values;
- ``loader``: scenario files (file:line:column errors) and the bundled scenarios;
- ``shocks``: the shocks as transformations of what a backtest reads;
- ``run``: the backtests and what each one came to.
"""

from signalops.stress.loader import bundled_scenarios, load_scenario, loads_scenario, select
from signalops.stress.scenario import Gap, Outage, PredictionJump, Scenario, VenueRejects
from signalops.stress.scenario_backtests import ScenarioRun, StressReport, run_scenario, run_stress

__all__ = [
    "Gap",
    "Outage",
    "PredictionJump",
    "Scenario",
    "ScenarioRun",
    "StressReport",
    "VenueRejects",
    "bundled_scenarios",
    "load_scenario",
    "loads_scenario",
    "run_scenario",
    "run_stress",
    "select",
]
