"""The file names a checkpoint may be saved under.

anynet writes one format, safetensors (see :mod:`anynet.checkpoint`). A name whose extension
means another format (``model.pt``, ``model.keras``, ``model.pkl`` …) is refused before a byte
is written: the file would otherwise hold safetensors under a name that ``torch.load``,
``keras.models.load_model`` or ``pickle.load`` then fails to read, or misreads, later and
elsewhere. Accepted: ``.safetensors`` (the format's own extension), no extension at all (a
name chosen without a format in mind, such as a temporary file), and any extension that names
no other format (``.st``, ``.ckpt1``, ``.best`` …). The check looks at the last extension of the
file's name only, in any case: ``run.pt.safetensors`` and ``runs.pt/model.safetensors`` are fine.

Example:
    >>> check_checkpoint_name("runs/model.safetensors")
    >>> check_checkpoint_name("model.pt")
    Traceback (most recent call last):
    ...
    anynet.errors.ConfigError: save: 'model.pt' ends in .pt, PyTorch's format ... as 'model.safetensors' ...
"""

from __future__ import annotations

import os
from pathlib import PurePath

from .errors import ConfigError

__all__ = ["FOREIGN_EXTENSIONS", "check_checkpoint_name"]

#: extensions that mean another format -> what that format is, and how its users read a safetensors file
FOREIGN_EXTENSIONS: dict[str, str] = {
    ".pt": "PyTorch's format (torch.save); anynet writes safetensors: save it as {fix} "
           "(torch reads it with safetensors.torch.load_file)",
    ".pth": "PyTorch's format (torch.save); anynet writes safetensors: save it as {fix} "
            "(torch reads it with safetensors.torch.load_file)",
    ".bin": "the usual name of PyTorch weights (pytorch_model.bin, torch.save); anynet writes safetensors: "
            "save it as {fix}",
    ".ckpt": "PyTorch Lightning's and TensorFlow's checkpoint format; anynet writes safetensors: save it as {fix}",
    ".keras": "Keras's format (model.save); anynet writes safetensors: save it as {fix}",
    ".h5": "HDF5, Keras 2's format; anynet writes safetensors: save it as {fix}",
    ".hdf5": "HDF5, Keras 2's format; anynet writes safetensors: save it as {fix}",
    ".pkl": "pickle's format; anynet writes safetensors: save it as {fix} (a model also pickles: "
            "pickle.dump(model, file))",
    ".pickle": "pickle's format; anynet writes safetensors: save it as {fix} (a model also pickles: "
               "pickle.dump(model, file))",
    ".joblib": "joblib's format; anynet writes safetensors: save it as {fix} (a model also pickles, "
               "so joblib.dump(model, file) works)",
    ".npz": "NumPy's format (numpy.savez); anynet writes safetensors: save it as {fix} "
            "(model.parameters() gives the arrays for numpy.savez)",
    ".npy": "NumPy's format (numpy.save); anynet writes safetensors: save it as {fix}",
    ".onnx": "ONNX's format; anynet writes safetensors: save it as {fix}",
}


def check_checkpoint_name(path: str | os.PathLike, where: str = "save") -> None:
    """Refuse a checkpoint ``path`` whose extension means another format (``FOREIGN_EXTENSIONS``)
    with a :class:`~anynet.errors.ConfigError` naming the format and the name to use instead;
    ``where`` starts the message (``"save"``, ``"ModelCheckpoint"``). Anything else passes."""
    if not isinstance(path, (str, os.PathLike)):
        return  # a file object: its name is the caller's
    name = PurePath(os.fspath(path)).name
    suffix = PurePath(name).suffix.lower()
    if suffix not in FOREIGN_EXTENSIONS:
        return
    fix = repr(name[: -len(suffix)] + ".safetensors")
    how = FOREIGN_EXTENSIONS[suffix].format(fix=fix)
    onnx = "" if suffix == ".onnx" else "; for ONNX use anynet.onnx.export"
    if suffix == ".onnx":
        how += "; to write ONNX use anynet.onnx.export(model, path)"
    raise ConfigError(f"{where}: {str(os.fspath(path))!r} ends in {suffix}, {how}{onnx}")
