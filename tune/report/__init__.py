"""The benchmark and search report: :func:`tune.report.build.build_report` writes tables, figures,
galleries and one self-contained HTML page (plus Markdown) from a results folder.

:mod:`~tune.report.html` renders the blocks, :mod:`~tune.report.figures` draws the figures,
:mod:`~tune.report.search` adds the search section.
"""
