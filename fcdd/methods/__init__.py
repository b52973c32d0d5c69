"""The methods: FCDD and its HSC and autoencoder baselines, one module each (loss, scorer, heatmap,
counterpart networks), behind :data:`fcdd.methods.registry.METHODS`.

Shared pieces: :mod:`fcdd.methods.base` (the :class:`~fcdd.methods.base.Method` record and the
scorer protocol), :mod:`fcdd.methods.upsample` (receptive-field upsampling), :mod:`fcdd.methods.blur`
(the baselines' heatmap blur) and :mod:`fcdd.methods.build` (a config's method, network and scorer).
"""
