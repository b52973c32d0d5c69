"""A trained run as a model that leaves Python: one exportable graph, its card, and safe loading.

``graph`` holds the detector module (the run's own preprocessing, network and scorer), ``export``
writes it as ONNX or TorchScript beside a ``model.json`` card (``card``), and ``load`` reads an
export back without executing code from its files. Nothing here is imported at package import:
``fcdd --help`` stays torch-free.
"""
