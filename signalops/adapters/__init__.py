"""Data adapters: one module per source, a shared HTTP client, the snapshot store and replays.

catalogue.py / metrics.py   what each source can answer (the compiler checks names against it)
base.py                     the batch protocol: Observation or DataError per request
http.py                     httpx client with timeouts, retries, rate limit and TTL cache
store.py                    the snapshot store that records and replays raw series
registry.py                 adapters by source name, including entry-point plugins
technical.py, onchain.py, polymarket.py, fundamental.py, news.py   the five sources
"""
