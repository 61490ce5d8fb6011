"""The SignalOps dashboard (Streamlit): ``signalops dashboard`` starts ``app.py``.

Streamlit is imported only in this package; the library calls it makes live in
``signalops.dashboard.api`` and the pure helpers ``tables`` and ``files``.
"""
