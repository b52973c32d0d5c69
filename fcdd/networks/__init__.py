"""Networks: FCDD nets that map images to (B, 1, h, w) score maps with a receptive field per cell,
and the HSC and autoencoder baseline nets.

Import from the modules: :mod:`fcdd.networks.registry` (the table of networks),
:mod:`fcdd.networks.build` (``build_network``), :mod:`fcdd.networks.receptive_field`.
"""
