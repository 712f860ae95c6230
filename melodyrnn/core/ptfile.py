"""Read a checkpoint file without torch: its tensors as numpy arrays.

A ``.pt`` file written by ``torch.save`` is a zip: ``data.pkl``, a pickle of the saved dict
in which every tensor is a call of ``torch._utils._rebuild_tensor_v2`` on a storage, and one
``data/KEY`` entry of raw little-endian bytes per storage. This unpickler knows only the
names a checkpoint of weights and plain data uses (the same short list
``torch.load(weights_only=True)`` accepts for them) and builds numpy arrays from the
storages, so a shipped model can be sampled in a process that never imports torch (which
alone takes a second or two to import). Any other name in the pickle is refused: opening a
file runs no code.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["read_pt", "STORAGE_DTYPES", "NeedsTorch"]

#: torch's typed storages -> numpy dtypes (bfloat16 has none: such files need torch)
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class NeedsTorch(ValueError):
    """A file this reader cannot read but ``torch.load`` may: not a zip (torch's legacy
    format, or no checkpoint at all), big-endian, or a storage type numpy has no dtype for."""


class _Storage:
    """A storage's dtype name as the pickle names it (``torch.FloatStorage``)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_ignored) -> np.ndarray:
    """The array ``torch._utils._rebuild_tensor_v2`` would make, as a numpy view copied out."""
    item = storage.itemsize
    if not size:
        return storage[offset:offset + 1].reshape(()).copy()
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride), writeable=False)
    return np.array(view)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self.archive, self.prefix, self.storages = archive, prefix, {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(name)
        if module == "torch" and name.endswith("Storage"):
            raise NeedsTorch(f"{name} has no numpy dtype")
        raise pickle.UnpicklingError(f"global '{module}.{name}'")

    def persistent_load(self, pid):
        kind, storage, key, _location, _numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise TypeError(f"unknown storage {pid!r}")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            dtype = np.dtype(STORAGE_DTYPES[storage.name]).newbyteorder("<")
            self.storages[key] = np.frombuffer(raw, dtype=dtype)
        return self.storages[key]


def read_pt(path: str | Path) -> object:
    """The object saved in ``path`` by ``torch.save``, tensors as numpy arrays.

    Raises
    ------
    NeedsTorch
        For a file that is not such a zip, a big-endian one, or one with storages numpy
        cannot hold (bfloat16).
    ValueError
        For a pickle naming anything but tensors, storages and plain data.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if pkl is None:
                raise NeedsTorch(f"{path}: not a readable checkpoint")
            prefix = pkl[:-len("data.pkl")]
            order = f"{prefix}byteorder"
            if order in archive.namelist() and archive.read(order).strip() != b"little":
                raise NeedsTorch(f"{path}: a big-endian checkpoint needs torch to read")
            with archive.open(pkl) as f:
                return _Unpickler(f, archive, prefix).load()
    except zipfile.BadZipFile:
        raise NeedsTorch(f"{path}: not a readable checkpoint") from None
    except pickle.UnpicklingError as e:  # worded as checkpoint.load_checkpoint words torch's refusal
        raise ValueError(f"{path}: refused to load: it holds objects other than weights and plain data, "
                         f"which could run code ({str(e)[:160]})") from None
    except (KeyError, EOFError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
