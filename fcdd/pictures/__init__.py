"""Pictures of a run: pure rendering (:mod:`~fcdd.pictures.render`), heatmap colour scales
(:mod:`~fcdd.pictures.normalise`), heatmap grids (:mod:`~fcdd.pictures.grids`) and plots
(:mod:`~fcdd.pictures.plots`). Nothing here writes files; :mod:`fcdd.artifacts` does.
"""
