"""Hostile checkpoint files: tensors whose size, stride or offset leave their storage, storages
that lie about their length, tensors that claim gigabytes, encodings beyond the CLI's limits.

Each file is built here, byte by byte, by a small stand-in for ``torch.save`` (a pickle whose
tensors are ``torch._utils._rebuild_tensor_v2`` calls with chosen arguments, zipped with its
storages). The torch-free reader must refuse each with a one-line ``ValueError`` before it
allocates or reads anything, and ``melodyrnn generate`` must exit non-zero with one line on
stderr -- never a crash, a traceback, a hang or music made of heap bytes.
"""

import collections
import io
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.core.checkpoint import load_checkpoint, payload, save_checkpoint
from melodyrnn.core.loading import load_for_sampling, load_with_checkpoint
from melodyrnn.core.models.config import ModelConfig
from melodyrnn.core.models.network import SequenceModel
from melodyrnn.core.ptfile import read_pt
from melodyrnn.core.registry import get_encoding
from melodyrnn.music.limits import STEPS_PER_QUARTER
from melodyrnn.music.midi_io import write_midi
from tunes import track, tune

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.bool_): "BoolStorage", np.dtype(np.float16): "HalfStorage"}


class Store:
    """A storage to write: its key, elements, and the element count its pickle entry declares."""

    def __init__(self, key: str, array: np.ndarray, numel: int | None = None) -> None:
        self.key, self.array = key, np.ascontiguousarray(array).reshape(-1)
        self.numel = self.array.shape[0] if numel is None else numel


class View:
    """A tensor to write: ``_rebuild_tensor_v2(store, offset, size, stride, ...)``, unchecked."""

    def __init__(self, store: Store, offset: int, size: tuple, stride: tuple) -> None:
        self.store, self.offset, self.size, self.stride = store, offset, size, stride


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Store):
            return ("storage", getattr(torch, STORAGE_NAMES[obj.array.dtype]), obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, View):
            return (torch._utils._rebuild_tensor_v2,
                    (obj.store, obj.offset, obj.size, obj.stride, False, collections.OrderedDict()))
        return NotImplemented


def write_pt(path, obj) -> None:
    """``obj`` (its torch tensors as honest views, plus any :class:`View`) zipped as torch does."""
    stores = []

    def convert(value):
        if isinstance(value, torch.Tensor):
            value = View(Store(f"t{len(stores)}", value.contiguous().numpy()), 0, tuple(value.shape),
                         tuple(value.contiguous().stride()))
        if isinstance(value, View):
            stores.append(value.store)
            return value
        if isinstance(value, dict):
            return type(value)((k, convert(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value

    obj = convert(obj)
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        buf = io.BytesIO()
        _Pickler(buf, protocol=2).dump(obj)
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/version", b"3\n")
        for store in {s.key: s for s in stores}.values():
            little = store.array.astype(store.array.dtype.newbyteorder("<"))
            z.writestr(f"archive/data/{store.key}", little.tobytes())


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small melody checkpoint (untrained lstm, 133 ids) as a dict of torch tensors, and a seed."""
    root = tmp_path_factory.mktemp("small")
    enc = get_encoding("melody")
    torch.manual_seed(0)
    model = SequenceModel(ModelConfig(vocab_size=len(enc.vocab), kind="lstm", hidden=16, layers=1,
                                      embedding=8))
    save_checkpoint(root / "honest.pt", payload(model, encoding=enc.to_dict(), vocab=enc.vocab.to_dict()))
    seed = root / "seed.mid"
    write_midi(tune(track([(60 + (i * 5) % 12, i, i + 1) for i in range(16)])), seed)
    return load_checkpoint(root / "honest.pt"), seed


def _bias(edit):
    """An edit that replaces ``out.bias`` (133,) with ``edit(its honest store)``."""
    def apply(ckpt):
        store = Store("bias", ckpt["model_state"]["out.bias"].numpy())
        ckpt["model_state"]["out.bias"] = edit(store)
    return apply


def _metric(view):
    return lambda ckpt: ckpt["metrics"].__setitem__("surprise", view)


def _shared_views(ckpt):  # 12 whole views of one 4 MB storage: 48 MB claimed by a 4 MB file
    big = Store("big", np.zeros(1 << 20, np.float32))
    ckpt["metrics"]["views"] = [View(big, 0, (1 << 20,), (1,)) for _ in range(12)]


# case: (edit of the checkpoint dict, what the reader's refusal says, whether torch.load refuses too)
CASES = {
    "stride 10**8": (_bias(lambda s: View(s, 0, (133,), (10 ** 8,))), "reaches element", True),
    "negative stride": (_bias(lambda s: View(s, 132, (133,), (-1,))), "negative", True),
    "offset beyond the storage": (_bias(lambda s: View(s, 10 ** 6, (133,), (1,))), "reaches element", True),
    "size beyond the storage": (_bias(lambda s: View(s, 0, (134,), (1,))), "reaches element", True),
    "float size": (_bias(lambda s: View(s, 0, (133.0,), (1,))), "not an integer", True),
    "storage longer than its entry": (_bias(lambda s: View(Store("bias", s.array, 10 ** 9), 0, (133,), (1,))),
                                      "declares 1000000000 elements", True),
    "storage shorter than its entry": (_bias(lambda s: View(Store("bias", s.array, 100), 0, (100,), (1,))),
                                       "declares 100 elements", True),
    "(10**5, 10**5) in the metrics, strided": (
        _metric(View(Store("one", np.zeros(1, np.float32)), 0, (10 ** 5, 10 ** 5), (10 ** 5, 1))),
        "reaches element", True),
    "(10**5, 10**5) in the metrics, broadcast": (
        _metric(View(Store("one", np.zeros(1, np.float32)), 0, (10 ** 5, 10 ** 5), (0, 0))),
        "claims 10000000000 elements from a storage of 1", False),  # torch makes a cheap view
    "many views of one storage": (_shared_views, "claim more memory together", False),
    "steps_per_quarter 10**7": (lambda c: c["encoding"]["config"].__setitem__("steps_per_quarter", 10 ** 7),
                                "steps_per_quarter = 10000000 is outside 1..96", True),
}


def _hostile(small, tmp_path, case):
    ckpt, _ = small
    ckpt = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ckpt.items()}
    ckpt["encoding"] = {"name": ckpt["encoding"]["name"], "config": dict(ckpt["encoding"]["config"])}
    CASES[case][0](ckpt)
    path = tmp_path / "hostile.pt"
    write_pt(path, ckpt)
    return path


def test_the_writer_is_faithful(small, tmp_path):
    """The stand-in for torch.save writes what torch.save would: both loaders read it back."""
    ckpt, seed = small
    write_pt(tmp_path / "same.pt", ckpt)
    for back in (load_checkpoint(tmp_path / "same.pt"), load_checkpoint(tmp_path / "same.pt", arrays=True)):
        assert back["encoding"] == ckpt["encoding"] and back["vocab"] == ckpt["vocab"]
        for key, tensor in ckpt["model_state"].items():
            np.testing.assert_array_equal(np.asarray(back["model_state"][key]), tensor.numpy())
    result = _generate(tmp_path / "same.pt", seed, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_checkpoints_are_refused_by_both_loaders(case, small, tmp_path):
    path = _hostile(small, tmp_path, case)
    _, reason, torch_refuses = CASES[case]
    with pytest.raises(ValueError, match="refused|bad settings") as refused:
        load_for_sampling(path)  # the torch-free reader, as generate uses it
    assert reason in str(refused.value) and "\n" not in str(refused.value)
    if "steps_per_quarter" not in case:  # the reader's own refusals name the file
        assert str(path) in str(refused.value)
        with pytest.raises(ValueError, match=reason.split(" = ")[0]):
            read_pt(path)
    if torch_refuses:
        with pytest.raises(ValueError):
            load_with_checkpoint(path)


def _generate(path, seed, tmp_path):
    return subprocess.run([sys.executable, "-m", "melodyrnn", "generate", str(seed), "--model", str(path),
                           "--output-dir", str(tmp_path / "out"), "--bars", "2", "--num-outputs", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_generate_with_a_hostile_checkpoint_says_one_line(case, small, tmp_path):
    """A process of its own, so that a crash (SIGSEGV) or a hang (timeout) fails the test."""
    path = _hostile(small, tmp_path, case)
    result = _generate(path, small[1], tmp_path)
    assert result.returncode > 0, (result.returncode, result.stderr)  # < 0: killed by a signal
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert CASES[case][1] in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_cut_short_file_is_one_line(small, tmp_path):
    write_pt(tmp_path / "whole.pt", small[0])
    data = (tmp_path / "whole.pt").read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        result = _generate(tmp_path / "cut.pt", small[1], tmp_path)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode > 0 and len(lines) == 1 and "readable" in lines[0], result.stderr


def test_every_music_encoding_setting_meets_the_limits_the_cli_uses():
    low, high = STEPS_PER_QUARTER
    assert get_encoding("melody", steps_per_quarter=high).config.steps_per_quarter == high
    refused = [("melody", dict(steps_per_quarter=high + 1)), ("melody", dict(steps_per_quarter=low - 1)),
               ("melody", dict(steps_per_quarter=4.0)), ("melody", dict(steps_per_quarter=True)),
               ("melody", dict(gap_bars=float("nan"))), ("melody", dict(gap_bars=float("inf"))),
               ("melody", dict(min_notes=0)), ("melody", dict(min_pitch="0")),
               ("melody", dict(transpose_to_key=1.5)), ("chorale", dict(steps_per_quarter=25)),
               ("chorale", dict(max_steps=10 ** 9)), ("chorale", dict(voices=2.0)),
               ("performance", dict(steps_per_second=0)), ("performance", dict(steps_per_second=10 ** 7)),
               ("performance", dict(velocity_bins=0)), ("performance", dict(max_shift_steps=-1)),
               ("performance", dict(per_instrument="yes"))]
    for name, options in refused:
        with pytest.raises(ValueError, match=f"bad settings for the {name} encoding: {next(iter(options))}"):
            get_encoding(name, **options)


@st.composite
def _tensor(draw):
    """A tensor of 0-4 dims, or a view of one: permuted, narrowed, sliced with steps."""
    dims = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
    dtype = draw(st.sampled_from([torch.float32, torch.int64, torch.bool, torch.float16]))
    base = (torch.arange(int(np.prod(dims)) if dims else 1) * 7 % 11).reshape(dims).to(dtype)
    for _ in range(draw(st.integers(0, 3))):
        if base.dim() >= 2 and draw(st.booleans()):
            order = draw(st.permutations(range(base.dim())))
            base = base.permute(*order)
        elif base.dim() >= 1:
            d = draw(st.integers(0, base.dim() - 1))
            n = base.shape[d]
            start = draw(st.integers(0, n))
            step = draw(st.integers(1, 3))
            base = base.narrow(d, start, n - start)[(slice(None),) * d + (slice(None, None, step),)]
    return base


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tensors=st.lists(_tensor(), min_size=1, max_size=6))
def test_the_reader_gives_exactly_what_torch_load_gives(tensors, tmp_path):
    """Random valid tensors (non-contiguous views, offsets into shared storages, empty and 0-d
    ones) saved by torch itself: read_pt's values, dtypes and shapes are torch.load's."""
    saved = {f"t{i}": t for i, t in enumerate(tensors)}
    saved["shared"] = [tensors[0], tensors[0].reshape(-1)[1:] if tensors[0].dim() else tensors[0]]
    torch.save(saved, tmp_path / "p.pt")
    want, got = torch.load(tmp_path / "p.pt", weights_only=True), read_pt(tmp_path / "p.pt")
    flat_want = [*(want[f"t{i}"] for i in range(len(tensors))), *want["shared"]]
    flat_got = [*(got[f"t{i}"] for i in range(len(tensors))), *got["shared"]]
    for w, g in zip(flat_want, flat_got):
        assert g.dtype == w.numpy().dtype and g.shape == tuple(w.shape)
        np.testing.assert_array_equal(g, w.numpy())
