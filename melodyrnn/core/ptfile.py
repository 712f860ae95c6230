"""Read a checkpoint file without torch: its tensors as numpy arrays.

A ``.pt`` file written by ``torch.save`` is a zip: ``data.pkl``, a pickle of the saved dict
in which every tensor is a call of ``torch._utils._rebuild_tensor_v2`` on a storage, and one
``data/KEY`` entry of raw little-endian bytes per storage. This unpickler knows only the
names a checkpoint of weights and plain data uses (the same short list
``torch.load(weights_only=True)`` accepts for them) and builds numpy arrays from the
storages, so a shipped model can be sampled in a process that never imports torch (which
alone takes a second or two to import). Any other name in the pickle is refused: opening a
file runs no code.

The file is untrusted, so nothing it declares is believed: every zip entry must unpack to
about its stored size (:func:`check_zip`), every storage must hold exactly the elements its
pickle entry declares, and every tensor's size, stride and offset must stay inside its storage
(``_Unpickler.rebuild_tensor``), checked in Python integers before any array is made, and the
elements all tensors claim together are capped by the file's size. Arrays are then copied out
of their storage by slicing and integer indexing, which numpy bounds-checks again; there is
no ``as_strided``: a hostile file is refused with a one-line ``ValueError``, it cannot read
memory outside its storages.
"""

from __future__ import annotations

import collections
import os
import pickle
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_pt", "check_zip", "STORAGE_DTYPES", "NeedsTorch"]

#: torch's typed storages -> numpy dtypes (bfloat16 has none: such files need torch)
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
#: the bytes all tensors of a file may claim together, as a multiple of the file's size (tied
#: weights share one storage, so an honest file claims up to about twice its size), plus slack
CLAIM_FACTOR, CLAIM_SLACK = 4, 1 << 20
_KEY = re.compile(r"[0-9A-Za-z_.-]{1,64}")


class NeedsTorch(ValueError):
    """A file this reader cannot read but ``torch.load`` may: not a zip (torch's legacy
    format, or no checkpoint at all), big-endian, or a storage type numpy has no dtype for."""


class _Refused(ValueError):
    """Why a file's contents cannot be a checkpoint (its path is added by :func:`read_pt`)."""


class _Storage:
    """A storage's dtype name as the pickle names it (``torch.FloatStorage``)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Loaded:
    """A storage read from the zip: its key and its elements (1-D). Only this reader makes
    them, so a tensor can be rebuilt from nothing but a real storage."""

    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key, self.array = key, array


def check_zip(path: str | Path) -> None:
    """Refuse a zip whose entries inflate far beyond the file (torch stores them uncompressed,
    so an honest checkpoint unpacks to about its own size); a file that is no zip passes
    (the caller's reader says what it is).

    Raises
    ------
    ValueError
        Naming the file, the size its entries declare and its own size (MiB).
    """
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    size = os.stat(path).st_size
    if unpacked > 2 * size + (1 << 20):
        raise ValueError(f"{path}: refused to load: its entries inflate to {unpacked / 2**20:.0f} MiB "
                         f"from {size / 2**20:.1f} MiB")


def _int(value, what: str) -> int:
    if type(value) is not int:
        raise _Refused(f"{what} is {type(value).__name__}, not an integer")
    return value


def _ints(values, what: str) -> tuple[int, ...]:
    if type(values) not in (tuple, list) or len(values) > 64:
        raise _Refused(f"{what} is not a tuple of at most 64 integers")
    return tuple(_int(v, what) for v in values)


def _gather(flat: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """Elements ``flat[offset + sum(i_k * stride_k)]`` for every index ``i`` of ``size``, copied:
    a slice where the strides are row-major (the usual case), else integer indexing (both
    bounds-checked by numpy: they cannot read past ``flat``)."""
    numel, dense = 1, 1
    contiguous = True
    for n, st in reversed(tuple(zip(size, stride))):
        contiguous &= n <= 1 or st == dense
        dense *= n
        numel *= n
    if contiguous or numel == 0:
        part = flat[offset:offset + numel]
        if part.shape[0] != numel:  # the caller's bounds check makes this unreachable
            raise _Refused("a tensor runs past its storage")
        return part.reshape(size).copy()
    index = np.array(offset, np.int64)
    for n, st in zip(size, stride):
        index = np.add.outer(index, np.arange(n, dtype=np.int64) * st)
    return flat[index]


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, budget: int) -> None:
        super().__init__(file)
        self.archive, self.prefix, self.storages, self.budget, self.tensors = archive, prefix, {}, budget, 0

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self.rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(name)
        if module == "torch" and name.endswith("Storage"):
            raise NeedsTorch(f"{name} has no numpy dtype")
        raise pickle.UnpicklingError(f"global '{module}.{name}'")

    def persistent_load(self, pid):
        if type(pid) is not tuple or len(pid) != 5:
            raise _Refused("a storage reference is not torch's 5-tuple")
        kind, storage, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise _Refused("unknown storage kind")
        if type(key) is not str or not _KEY.fullmatch(key):
            raise _Refused("a storage key is not a short name")
        numel = _int(numel, f"storage {key}'s element count")
        dtype = np.dtype(STORAGE_DTYPES[storage.name]).newbyteorder("<")
        if key not in self.storages:
            try:
                info = self.archive.getinfo(f"{self.prefix}data/{key}")
            except KeyError:
                raise _Refused(f"storage {key} has no data entry") from None
            if info.file_size != numel * dtype.itemsize:
                raise _Refused(f"storage {key} declares {numel} elements of {dtype.itemsize} bytes, its "
                               f"entry holds {info.file_size} bytes")
            raw = self.archive.read(info)
            if len(raw) != info.file_size:
                raise _Refused(f"storage {key}'s entry is cut short")
            self.storages[key] = _Loaded(key, np.frombuffer(raw, dtype=dtype))
        loaded = self.storages[key]
        if loaded.array.dtype != dtype or loaded.array.shape[0] != numel:
            raise _Refused(f"storage {key} is named with two types or lengths")
        return loaded

    def rebuild_tensor(self, storage, offset, size, stride, *_ignored) -> np.ndarray:
        """The array ``torch._utils._rebuild_tensor_v2`` would make, copied out of its storage
        after its size, stride and offset are checked against it."""
        self.tensors += 1
        what = f"tensor {self.tensors}"
        if not isinstance(storage, _Loaded) or len(_ignored) > 3:
            raise _Refused(f"{what} is not built on a storage of the file")
        offset = _int(offset, f"{what}'s offset")
        size, stride = _ints(size, f"{what}'s size"), _ints(stride, f"{what}'s stride")
        flat = storage.array
        if len(size) != len(stride):
            raise _Refused(f"{what} has {len(size)} sizes and {len(stride)} strides")
        if min((*size, *stride, offset), default=0) < 0:
            raise _Refused(f"{what} has a negative size, stride or offset "
                           f"(size {size}, stride {stride}, offset {offset})")
        numel = 1
        for n in size:
            numel *= n
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))  # the last element it reads
        if numel and last >= flat.shape[0]:  # (an empty tensor reads none: torch lets its offset be any)
            raise _Refused(f"{what} (size {size}, stride {stride}, offset {offset}) reaches element "
                           f"{last} of its {flat.shape[0]}-element storage {storage.key}")
        if numel > flat.shape[0]:  # overlapping views: more elements than are stored
            raise _Refused(f"{what} claims {numel} elements from a storage of {flat.shape[0]}")
        self.budget -= numel * flat.itemsize
        if self.budget < 0:
            raise _Refused("its tensors claim more memory together than a file of its size holds")
        return _gather(flat, offset, size, stride)


def read_pt(path: str | Path) -> object:
    """The object saved in ``path`` by ``torch.save``, tensors as numpy arrays.

    Raises
    ------
    NeedsTorch
        For a file that is not such a zip, a big-endian one, or one with storages numpy
        cannot hold (bfloat16).
    ValueError
        For a pickle naming anything but tensors, storages and plain data, and for one whose
        tensors or storages do not fit each other (one line, naming the file).
    """
    check_zip(path)
    try:
        budget = CLAIM_FACTOR * os.stat(path).st_size + CLAIM_SLACK
        with zipfile.ZipFile(path) as archive:
            pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if pkl is None:
                raise NeedsTorch(f"{path}: not a readable checkpoint")
            prefix = pkl[:-len("data.pkl")]
            order = f"{prefix}byteorder"
            if order in archive.namelist() and archive.read(order).strip() != b"little":
                raise NeedsTorch(f"{path}: a big-endian checkpoint needs torch to read")
            with archive.open(pkl) as f:
                return _Unpickler(f, archive, prefix, budget).load()
    except NeedsTorch:
        raise
    except _Refused as e:
        raise ValueError(f"{path}: refused to load: {e}") from None
    except zipfile.BadZipFile:
        raise NeedsTorch(f"{path}: not a readable checkpoint") from None
    except pickle.UnpicklingError as e:  # worded as checkpoint.load_checkpoint words torch's refusal
        raise ValueError(f"{path}: refused to load: it holds objects other than weights and plain data, "
                         f"which could run code ({str(e)[:160]})") from None
    except (KeyError, EOFError, TypeError, AttributeError, IndexError, ValueError, OSError, RuntimeError,
            NotImplementedError, zlib.error, RecursionError, MemoryError) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
