"""The benchmark and search report: :func:`tune.report.build.build_report` writes tables, figures,
galleries and an HTML page (plus Markdown) from a results folder; the folder holds every file the
page shows, referenced relatively.

:mod:`~tune.report.sections` lists the page's sections in order, each a function of one
:class:`~tune.report.context.ReportContext` (the results, the report folder and the writer that
records every file); :mod:`~tune.report.html` renders their blocks, :mod:`~tune.report.figures`
draws the figures.
"""
