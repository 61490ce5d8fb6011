"""SignalOps: trading strategies written in YAML, compiled into explicit, auditable logic trees."""

__version__ = "0.1.0"
