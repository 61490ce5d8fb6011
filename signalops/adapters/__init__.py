"""Data adapters: one module per source, a shared HTTP client, the snapshot store and replays.

base.py                     the batch protocol: Observation or DataError per request
gather.py                   one batch per source for everything a strategy needs, then evaluate
http.py                     httpx client with timeouts, retries, rate limit and TTL cache
snapshots.py                the snapshot store that records and replays raw series
registry.py                 adapters by source name, including entry-point plugins
bundled.py                  the bundled real data (examples/data) turned into replay snapshots
technical.py, onchain.py, polymarket.py, fundamental.py, news.py   the five sources

What each source can answer is declared in ``signalops.catalogue``, below both the language and
the adapters, so that compiling a strategy never imports a source's libraries.
"""
