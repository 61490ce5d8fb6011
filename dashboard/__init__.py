"""The SignalOps dashboard (Streamlit): ``signalops dashboard`` starts ``dashboard/app.py``.

Streamlit is imported only in this package; the library calls it makes live in
``signalops.dashboard_api`` and the pure helpers ``queries`` and ``files``.
"""
