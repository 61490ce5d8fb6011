"""Executors: what happens to an order intent that passed the risk gate.

base.py       the Executor protocol shared by every mode
paper.py      simulated fills with fee and slippage, portfolio persisted in SQLite
notify.py     a pending approval with an expiry, announced to webhooks; a human decides
auto.py       real orders through ccxt or Polymarket's CLOB; needs --live and credentials
exchange.py   the ccxt executor (idempotent by client order id, reconciles when unsure)
clob.py       the Polymarket CLOB executor (py-clob-client)
outcomes.py   FAILED results with stable reason codes, shared checks
redaction.py  credentials kept out of ccxt's and py-clob-client's log lines
"""
