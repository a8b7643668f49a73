"""Layers. Every layer follows one contract (see :mod:`anynet.layers.base`)."""

from .activation import Activation
from .base import LAYERS, Layer, register_layer
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .merge import Add, Concatenate, Merge

__all__ = ["LAYERS", "Activation", "Add", "Concatenate", "Merge", "BatchNorm", "Dense", "Dropout", "Layer", "register_layer"]
