"""Inverted dropout with masks drawn on the host from an explicit generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from ..random import Seed, as_generator
from ..registry import register
from ..shard import current as current_shard
from .base import Array, Backward, Layer, is_real

_U128 = 1 << 128


@register("layer")
class Dropout(Layer):
    """Zero each input with probability ``p`` while training, scaling the rest by 1/(1-p).

    In evaluation (``training=False``) it is the identity. The mask is drawn with a
    ``numpy.random.Generator`` on the host and sent to the device, so the same seed drops the
    same units on every backend (at the cost of one small host-to-device copy per step). The
    generator's state is saved with the layer (:meth:`extra_state`), so a resumed run draws the
    masks it would have drawn.

    Arguments:
        p: drop probability in [0, 1).
        seed: seed or Generator of the masks (a model's ``seed`` replaces it). Only the default
            bit generator, PCG64 (``numpy.random.default_rng``), can be saved.

    Shapes:
        x: (n, d) → y: (n, d).

    Example:
        >>> import numpy as np
        >>> from anynet.layers import Dropout
        >>> y, _ = Dropout(0.5, seed=0).forward(np.ones((2, 4)), training=True)
        >>> sorted(set(y.ravel().tolist()))
        [0.0, 2.0]
    """

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        super().__init__()
        if not is_real(p) or not 0.0 <= p < 1.0:
            raise ConfigError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        # a generator is no parameter: made even under deferred_init
        self.rng = as_generator(seed)

    def reset_parameters(self, rng: Seed = None) -> None:
        self.rng = as_generator(rng)

    def draw(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """This step's mask for an input of ``shape`` (n, d), drawn on the host from ``rng``
        exactly as ``forward`` draws it (same values, same generator position), as float64
        ``keep / (1 - p)``; None when nothing is dropped (``p == 0``). Data-parallel (inside
        :func:`anynet.shard.use`) the global batch's mask is drawn and this process's rows kept.

        The training step calls it before the step and hands the mask in (:meth:`given`), so a
        compiled step draws nothing itself and every backend drops the same units."""
        if self.p == 0.0:
            return None
        part = current_shard()
        if part is None:
            keep = self.rng.random(tuple(shape)) >= self.p
        else:  # data-parallel: the global batch's mask (as one process draws it), this process's rows of it
            n = int(shape[0])
            keep = (self.rng.random((part.total, *shape[1:])) >= self.p)[part.offset:part.offset + n]
        return keep.astype(np.float64) / (1.0 - self.p)

    def given(self, mask: Array | None) -> None:
        """The mask the next ``forward(..., training=True)`` uses instead of drawing one (a device
        array of the input's shape and dtype, from :meth:`draw`); it is used once."""
        self._given = mask

    def forward(self, x: Array, *, training: bool = False, need_dx: bool = True) -> tuple[Array, Backward]:
        if not training or self.p == 0.0:
            return x, lambda dy: dy
        mask = self.__dict__.pop("_given", None)
        if mask is None:  # used alone: draw here
            mask = self._backend_for(x).asarray(self.draw(tuple(x.shape)), dtype=x.dtype)
        return x * mask, lambda dy: dy * mask

    def config(self) -> dict[str, Any]:
        return {"p": self.p}

    def extra_state(self) -> dict[str, Any]:
        """The mask generator's ``bit_generator.state`` (a JSON-able dict of ints)."""
        bits = self.rng.bit_generator
        if not isinstance(bits, np.random.PCG64):
            raise ConfigError(
                f"{self!r}: cannot save the state of a {type(bits).__name__} generator (its state is not "
                "JSON-able); give Dropout an int seed or a numpy.random.default_rng(...) Generator (PCG64)"
            )
        return dict(bits.state)  # numpy types it as a TypedDict; each read of .state builds a new dict anyway

    def load_extra_state(self, state: dict[str, Any] | None) -> None:
        """Restore the mask generator from :meth:`extra_state`'s dict; malformed input raises
        InputError. None keeps the current generator."""
        if state is None:
            return
        where = f"{self!r}.load_extra_state"
        _check_pcg64_state(state, where)
        rng = np.random.Generator(np.random.PCG64())
        try:
            rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise InputError(f"{where}: numpy refused the generator state ({exc})") from None
        # a fresh generator: one shared with other layers is not rewound behind their back
        self.rng = rng


def _check_pcg64_state(state: Any, where: str) -> None:
    """Refuse anything but ``{"bit_generator": "PCG64", "state": {"state", "inc"}, "has_uint32", "uinteger"}``."""
    def fail(what: str) -> None:
        raise InputError(f"{where}: malformed generator state: {what}; expected the dict that "
                         "Dropout.extra_state() returns (numpy's PCG64 bit_generator.state)")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(state, dict):
        fail(f"got a {type(state).__name__}")
    keys = {"bit_generator", "state", "has_uint32", "uinteger"}
    if set(state) != keys:
        fail(f"keys {sorted(map(str, state))}, expected {sorted(keys)}")
    if state["bit_generator"] != "PCG64":
        fail(f"bit_generator {str(state['bit_generator'])[:40]!r}; only PCG64 is accepted")
    inner = state["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        fail("'state' must be a dict with the keys 'inc' and 'state'")
    for k in ("state", "inc"):
        if not is_int(inner[k]) or not 0 <= inner[k] < _U128:
            fail(f"state[{k!r}] must be an int in [0, 2**128), got {str(inner[k])[:60]}")
    if not is_int(state["has_uint32"]) or state["has_uint32"] not in (0, 1):
        fail(f"has_uint32 must be 0 or 1, got {str(state['has_uint32'])[:40]}")
    if not is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 1 << 32:
        fail(f"uinteger must be an int in [0, 2**32), got {str(state['uinteger'])[:40]}")
