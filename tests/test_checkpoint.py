"""Checkpoints: round trips, no pickle, atomic writes, all-or-nothing loads with clear errors."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import CheckpointError, nn, optim


class CharModel(nn.Module):
    def __init__(self, vocab=5, hidden=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, 3)
        self.rnn = nn.GRU(3, hidden, num_layers=2)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)


TOKENS = np.array([[0, 1], [2, 3], [4, 0]])  # (T=3, B=2)
TARGETS = np.array([[1, 2], [3, 4], [0, 1]])


def _trained(seed=0, steps=2):
    tg.manual_seed(seed)
    model = CharModel()
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(TOKENS), TARGETS).backward()
        opt.step()
    return model, opt


def _snapshot(model, opt=None):
    snap = {k: v.copy() for k, v in model.state_dict().items()}
    if opt is not None:
        for i, s in opt.state.items():
            for k, v in s.items():
                snap[f"opt.{i}.{k}"] = np.array(v)
    return snap


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_round_trip_restores_model_and_optimizer_and_training_resumes(tmp_path):
    model, opt = _trained(seed=0)
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)

    other, other_opt = _trained(seed=1, steps=1)
    tg.load(path, other, other_opt)
    _assert_same(_snapshot(other, other_opt), _snapshot(model, opt))
    assert other_opt.lr == opt.lr and other_opt.betas == opt.betas

    for m, o in [(model, opt), (other, other_opt)]:  # one more identical step on both
        o.zero_grad()
        nn.functional.cross_entropy(m(TOKENS), TARGETS).backward()
        o.step()
    _assert_same(_snapshot(other, other_opt), _snapshot(model, opt))


def test_file_holds_no_pickle_and_loads_with_allow_pickle_false(tmp_path):
    model, opt = _trained()
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)
    with np.load(path, allow_pickle=False) as archive:  # would raise on any object array
        keys = set(archive.files)
        assert all(archive[k].dtype != object for k in keys)
    assert "model/rnn.weight_hh_l1" in keys and "optimizer/state/0/exp_avg" in keys
    assert str(np.load(path)["optimizer/type"]) == "Adam"


def test_model_only_checkpoint_and_float32_kept(tmp_path):
    tg.manual_seed(3)
    model = CharModel().float()
    tg.save(tmp_path / "m.npz", model)
    tg.manual_seed(4)
    other = CharModel().float()
    tg.load(tmp_path / "m.npz", other)
    _assert_same(_snapshot(other), _snapshot(model))
    assert all(p.dtype == np.float32 for p in other.parameters())
    with pytest.raises(CheckpointError, match="no optimizer state"):
        tg.load(tmp_path / "m.npz", other, optim.SGD(other.parameters()))


def _corruptions(path):
    data = path.read_bytes()
    yield "truncated", data[: len(data) // 2]
    yield "empty", b""
    middle = bytearray(data)
    for i in range(len(middle) // 3, len(middle) // 3 + 64):
        middle[i] ^= 0xFF  # flip bytes inside the stored arrays: the CRC check must catch it
    yield "flipped", bytes(middle)
    yield "garbage", b"not a checkpoint at all" * 10


def test_truncated_or_corrupted_file_gives_clear_error_and_leaves_model_untouched(tmp_path):
    model, opt = _trained(seed=0)
    good = tmp_path / "good.npz"
    tg.save(good, model, opt)
    victim, victim_opt = _trained(seed=5)
    before = _snapshot(victim, victim_opt)
    for name, data in _corruptions(good):
        bad = tmp_path / f"{name}.npz"
        bad.write_bytes(data)
        with pytest.raises(CheckpointError, match=r"cannot be read as a checkpoint|not a tinygrad_rnn checkpoint"):
            tg.load(bad, victim, victim_opt)
        _assert_same(_snapshot(victim, victim_opt), before)


def test_pickled_file_is_refused(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    model = CharModel()
    with pytest.raises(CheckpointError, match="cannot be read"):
        tg.load(path, model)


def test_mismatched_keys_are_named_and_nothing_changes(tmp_path):
    model, opt = _trained()
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)
    tg.manual_seed(9)
    wider = CharModel(hidden=6)
    before = _snapshot(wider)
    with pytest.raises(CheckpointError) as info:
        tg.load(path, wider)
    assert "'rnn.weight_hh_l0' has shape (12, 4), expected (18, 6)" in str(info.value)
    assert str(path) in str(info.value)
    _assert_same(_snapshot(wider), before)

    class Smaller(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.extra = nn.Linear(2, 2)

    with pytest.raises(CheckpointError) as info:
        tg.load(path, Smaller())
    message = str(info.value)
    assert "missing keys ['extra.weight', 'extra.bias']" in message
    assert "unexpected keys" in message and "'head.weight'" in message


def test_optimizer_mismatch_rolls_back_the_model(tmp_path):
    model, opt = _trained()
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)
    victim, _ = _trained(seed=7)
    before = _snapshot(victim)
    with pytest.raises(CheckpointError, match="not SGD"):
        tg.load(path, victim, optim.SGD(victim.parameters()))
    # Same type but over different parameters: the optimizer refuses, the model is restored.
    lonely = optim.Adam([victim.head.bias])
    with pytest.raises(CheckpointError, match="optimizer has 1 parameters"):
        tg.load(path, victim, lonely)
    _assert_same(_snapshot(victim), before)


def test_plain_npz_without_marker_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, weight=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a tinygrad_rnn checkpoint"):
        tg.load(path, CharModel())
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.npz", CharModel())


def test_write_is_atomic_old_file_survives_a_crash(tmp_path, monkeypatch):
    model, opt = _trained()
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)
    original = path.read_bytes()

    def crash(file, **arrays):
        file.write(b"partial bytes")
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(np, "savez", crash)
    other, _ = _trained(seed=3)
    with pytest.raises(KeyboardInterrupt):
        tg.save(path, other)
    assert path.read_bytes() == original  # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # and no temporary file is left behind
    assert zipfile.is_zipfile(path)


# --------------------------------------------------------------------------- file safety
def _declare_size(data: bytes, size: int) -> bytes:
    """Patch the (only) member's declared uncompressed size in the zip's local and central headers."""
    patched = bytearray(data)
    struct.pack_into("<I", patched, patched.find(b"PK\x03\x04") + 22, size)
    struct.pack_into("<I", patched, patched.find(b"PK\x01\x02") + 24, size)
    return bytes(patched)


def _npy_header(shape, dtype="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()  # magic, length and the header dict


def _loads_at_once_without_allocating(path, model):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError) as info:
            tg.load(path, model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2.0
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    return str(info.value)


def test_small_file_declaring_a_huge_array_is_refused_before_inflating(tmp_path):
    model = CharModel()
    # 1 MB on disk whose zip directory declares 1 GiB uncompressed (a zip bomb's signature).
    bomb = tmp_path / "bomb.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/head.weight.npy", _npy_header((5, 4)) + os.urandom(2**20))
    bomb.write_bytes(_declare_size(buffer.getvalue(), 2**30))
    assert 2**20 < bomb.stat().st_size < 2**20 + 4096
    message = _loads_at_once_without_allocating(bomb, model)
    assert "declares 1,073,741,824 bytes" in message and "refusing to inflate" in message
    # ~300 bytes whose .npy header declares an 8 TiB float64 array.
    tiny = tmp_path / "tiny.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/rnn.weight_hh_l0.npy", _npy_header((2**40,)))
        archive.writestr("tinygrad_rnn_checkpoint.npy", _npy_header(()) + np.array(1.0).tobytes())
    tiny.write_bytes(buffer.getvalue())
    assert tiny.stat().st_size < 600
    message = _loads_at_once_without_allocating(tiny, model)
    assert "'model/rnn.weight_hh_l0' declares shape (1099511627776,)" in message


def test_unknown_format_version_is_refused_clearly(tmp_path):
    model, _ = _trained()
    path = tmp_path / "future.npz"
    tg.save(path, model)
    arrays = dict(np.load(path))
    arrays["tinygrad_rnn_checkpoint"] = np.array(2)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=r"format version '2'; this tinygrad_rnn reads version 1 only"):
        tg.load(path, CharModel())


@pytest.mark.parametrize(
    "key, value",
    [
        ("optimizer/hparams/lr", np.array("fast")),
        ("optimizer/hparams/lr", np.array(np.nan)),
        ("optimizer/state/0/exp_avg", np.zeros(3)),
        ("optimizer/state/0/step", np.array("one")),
        ("optimizer/bogus", np.zeros(1)),
    ],
)
def test_corrupt_optimizer_entry_is_a_checkpoint_error_and_nothing_changes(tmp_path, key, value):
    model, opt = _trained()
    path = tmp_path / "ckpt.npz"
    tg.save(path, model, opt)
    arrays = dict(np.load(path))
    arrays[key] = value
    np.savez(path, **arrays)
    victim, victim_opt = _trained(seed=4)
    before = _snapshot(victim, victim_opt)
    lr = victim_opt.lr
    with pytest.raises(CheckpointError, match=str(path)):
        tg.load(path, victim, victim_opt)
    _assert_same(_snapshot(victim, victim_opt), before)
    assert victim_opt.lr == lr


@pytest.mark.parametrize("target", ["/dev/null", "folder"])
@pytest.mark.parametrize("suffix", ["", ".safetensors"])
def test_save_never_replaces_anything_but_a_regular_file(tmp_path, target, suffix):
    pytest.importorskip("safetensors") if suffix else None
    if target == "folder":
        target = tmp_path / f"folder{suffix}"
        target.mkdir()
    elif suffix:  # a device reached through a link with the suffix
        link = tmp_path / f"null{suffix}"
        link.symlink_to("/dev/null")
        target = link
    with pytest.raises(CheckpointError, match=r"refusing to write .*: it is a (character device|folder), not a"):
        tg.save(target, CharModel())
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_new_files_respect_the_umask_and_existing_files_keep_their_mode(tmp_path):
    model = CharModel()
    old = os.umask(0o027)
    try:
        tg.save(tmp_path / "new.npz", model)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o640
    kept = tmp_path / "kept.npz"
    tg.save(kept, model)
    kept.chmod(0o600)
    tg.save(kept, model)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_every_legal_file_name_works_and_links_are_written_through(tmp_path):
    model, _ = _trained()
    longest = tmp_path / ("w" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 4) + ".npz")
    tg.save(longest, model)
    tg.save(longest, model)  # replacing it works too
    other = CharModel()
    tg.load(longest, other)
    _assert_same(_snapshot(other), _snapshot(model))
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    link.symlink_to(real.name)
    tg.save(link, model)
    assert link.is_symlink() and real.is_file()


# --------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip_with_optimizer_and_plain_names(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, opt = _trained()
    path = tmp_path / "model.safetensors"
    tg.save(path, model, opt)
    stored = safetensors_numpy.load_file(str(path))
    assert "rnn.weight_hh_l0" in stored and "optimizer/state/0/exp_avg" in stored  # plain dotted names
    victim, victim_opt = _trained(seed=3)
    tg.load(path, victim, victim_opt)
    _assert_same(_snapshot(victim, victim_opt), _snapshot(model, opt))
    tg.save(path, model)  # model only: exactly a PyTorch-style state dict
    assert set(safetensors_numpy.load_file(str(path))) == set(model.state_dict())


def test_safetensors_header_is_checked_before_any_allocation(tmp_path):
    pytest.importorskip("safetensors")
    model = CharModel()

    def write(name, header: dict, data: bytes = b"") -> os.PathLike:
        text = json.dumps(header).encode()
        path = tmp_path / name
        path.write_bytes(len(text).to_bytes(8, "little") + text + data)
        return path

    huge = write("huge.safetensors", {"head.weight": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 2**43]}})
    assert huge.stat().st_size < 300
    assert "does not fit" in _loads_at_once_without_allocating(huge, model)
    lying = tmp_path / "lying.safetensors"
    lying.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    assert "header declares" in _loads_at_once_without_allocating(lying, model)
    shaped = write(
        "shaped.safetensors", {"head.weight": {"dtype": "F64", "shape": [2**27], "data_offsets": [0, 2**30]}}
    )
    assert "does not fit" in _loads_at_once_without_allocating(shaped, model)
    future = write("future.safetensors", {"__metadata__": {"tinygrad_rnn_checkpoint": "7"}})
    with pytest.raises(CheckpointError, match="format version '7'"):
        tg.load(future, model)
    good = tmp_path / "good.safetensors"
    tg.save(good, model)
    data = good.read_bytes()
    # (safetensors has no checksum: flipped bytes in the data cannot be told from other numbers)
    for cut in (b"", data[:5], data[: len(data) // 2], data[:-1], b"not a checkpoint at all" * 10):
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(cut)
        with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
            tg.load(bad, model)


def test_missing_safetensors_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_rnn\[safetensors\]'"):
        tg.save(tmp_path / "m.safetensors", CharModel())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_pytorch_safetensors_round_trip_both_ways(tmp_path, kind):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    # PyTorch -> tinygrad_rnn: a model initialised and trained one step in PyTorch.
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2).double()
    torch_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    theirs(torch.from_numpy(x))[0].pow(2).sum().backward()
    torch_opt.step()
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = getattr(nn, kind)(3, 4, num_layers=2)
    tg.load(path, ours)
    expected = theirs(torch.from_numpy(x))[0].detach().numpy()
    np.testing.assert_allclose(ours(tg.Tensor(x))[0].data, expected, rtol=0, atol=1e-10)
    # tinygrad_rnn -> PyTorch.
    tg.manual_seed(1)
    ours = getattr(nn, kind)(3, 4, num_layers=2)
    path = tmp_path / "ours.safetensors"
    tg.save(path, ours)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2).double()
    theirs.load_state_dict(safetensors_torch.load_file(str(path)))
    expected = theirs(torch.from_numpy(x))[0].detach().numpy()
    np.testing.assert_allclose(ours(tg.Tensor(x))[0].data, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_shapes_reads_only_the_headers(tmp_path, suffix):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    model, opt = _trained()
    path = tmp_path / f"model{suffix}"
    tg.save(path, model, opt)
    assert tg.checkpoint.shapes(path) == {name: p.data.shape for name, p in model.named_parameters()}
