"""The measure of the loop: process figures and the maturity map, from the Event log.

``ReportService.build(project=..., endpoint=..., since=..., until=...)`` reads a period once
(``history.py``), then computes the map and hours (``stages.py``) and the delivery figures
(``delivery.py``); ``svg.py`` draws the map. docs/report.md defines every figure.
"""
