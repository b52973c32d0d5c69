"""Datasets, held in memory as uint8 tensors, and their batched preprocessing.

Import from the modules: :mod:`fcdd.data.registry` (the table of datasets), :mod:`fcdd.data.loading`
(class names, loading a problem), :mod:`fcdd.data.base` (:class:`~fcdd.data.base.ADData`),
:mod:`fcdd.data.preprocess`. This package file imports nothing, so that the torch-free parts
(the registry, the config) stay cheap to import.
"""
