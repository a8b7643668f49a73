"""Layers. Every layer follows one contract (see :mod:`anynet.layers.base`); every built-in
layer type is registered as ``anynet.register("layer")`` under its class name."""

from .activation import Activation
from .base import Layer, deferred_init
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layernorm import LayerNorm
from .merge import Add, Concatenate, Merge

__all__ = ["Activation", "Add", "BatchNorm", "Concatenate", "Dense", "Dropout", "Embedding", "Layer", "LayerNorm",
           "Merge", "deferred_init"]
