"""Checkpoints: round trips, no pickle, atomic writes, all-or-nothing loads with clear errors."""

from __future__ import annotations

import os
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
