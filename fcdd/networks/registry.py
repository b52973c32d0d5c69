"""The network registry: every network by its public name (the original's names).

FCDD nets (fully convolutional, :class:`~fcdd.networks.receptive_field.FCDDNet`) and the HSC and
AE baseline nets share the table; which method trains a net follows from its class (see
:mod:`fcdd.methods`). Adding a network: one module, one line here. Entries are
``"module:attribute"`` references, imported on first use (see :mod:`fcdd.registry`).
"""

from __future__ import annotations

from fcdd.registry import Entry

_CNN28, _CNN32, _CNN224, _VGG = (f"fcdd.networks.{m}" for m in ("cnn28", "cnn32", "cnn224", "vgg"))
_HSC, _AE = "fcdd.networks.hsc", "fcdd.networks.autoencoders"

NETWORKS: dict[str, Entry] = {
    # FCDD nets: images -> (B, 1, h, w) score maps with a receptive field per cell.
    "FCDD_CNN28": f"{_CNN28}:FCDD_CNN28",
    "FCDD_CNN28_W": f"{_CNN28}:FCDD_CNN28_W",
    "FCDD_CNN32": f"{_CNN32}:FCDD_CNN32",
    "FCDD_CNN32_S": f"{_CNN32}:FCDD_CNN32_S",
    "FCDD_CNN32_LW3K": f"{_CNN32}:FCDD_CNN32_LW3K",
    "FCDD_CNN224": f"{_CNN224}:FCDD_CNN224",
    "FCDD_CNN224_W": f"{_CNN224}:FCDD_CNN224_W",
    "FCDD_CNN224_VGG": f"{_VGG}:FCDD_CNN224_VGG",
    "FCDD_CNN224_VGG_NOPT": f"{_VGG}:FCDD_CNN224_VGG_NOPT",
    "FCDD_CNN224_VGG_F": f"{_VGG}:FCDD_CNN224_VGG_F",
    # HSC nets: images -> feature vectors.
    "CNN28": f"{_HSC}:CNN28",
    "CNN28_W": f"{_HSC}:CNN28_W",
    "CNN32": f"{_HSC}:CNN32",
    "CNN32_LW3K": f"{_HSC}:CNN32_LW3K",
    "CNN224": f"{_HSC}:CNN224",
    "CNN224_VGG": f"{_HSC}:CNN224_VGG",
    "CNN224_VGG_F": f"{_HSC}:CNN224_VGG_F",
    "CNN224_VGG_NOPT": f"{_HSC}:CNN224_VGG_NOPT",
    "CNN224_VGG_NOPT_1000": f"{_HSC}:CNN224_VGG_NOPT_1000",
    # Autoencoders: images -> reconstructions.
    "AE28": f"{_AE}:AE28",
    "AE28_W": f"{_AE}:AE28_W",
    "AE32": f"{_AE}:AE32",
    "AE32_LW3K": f"{_AE}:AE32_LW3K",
    "AE224": f"{_AE}:AE224",
    "AE224_VGG": f"{_AE}:AE224_VGG",
    "AE224_VGG_F": f"{_AE}:AE224_VGG_F",
    "AE224_VGG_NOPT": f"{_AE}:AE224_VGG_NOPT",
}
