"""The training and evaluation engine: runtime (device, precision, threads), batching, the fit loop,
evaluation (sample and pixel metrics) and validation splits.
"""
