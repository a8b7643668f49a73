"""Layers. Every layer follows one contract (see :mod:`anynet.layers.base`)."""

from .activation import Activation
from .base import LAYERS, Layer, register_layer
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout

__all__ = ["LAYERS", "Activation", "BatchNorm", "Dense", "Dropout", "Layer", "register_layer"]
