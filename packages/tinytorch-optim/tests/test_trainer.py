"""The Trainer on a tiny synthetic classification problem: learning, metrics,
modes, accumulation, NaN detection, progress output and checkpoint resume."""

import os

import numpy as np
import pytest

from tinytorch import nn, optim
from tinytorch.autograd import is_grad_enabled
from tinytorch.optim import trainer as trainer_module
from tinytorch.tensor import Generator, Tensor


def blobs(n=96, seed=0):
    """Three Gaussian blobs in 2-D; labels int64 in {0, 1, 2}."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = rng.integers(0, 3, size=n)
    x = centers[y] + 0.5 * rng.normal(size=(n, 2))
    return x, y


def batches(x, y, size, dtype=np.float32):
    return [(Tensor(x[i:i + size], dtype=dtype), Tensor(y[i:i + size]))
            for i in range(0, len(x), size)]


def as_dtype(model, dtype):
    """Cast every parameter in place (float64 makes equalities tight)."""
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    return model


def mlp(seed=0, dtype=np.float32):
    gen = Generator(seed)
    model = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.ReLU(),
                          nn.Linear(16, 3, generator=gen))
    return as_dtype(model, dtype)


def params_of(model):
    return [p.data.copy() for p in model.parameters()]


X, Y = blobs()
XV, YV = blobs(48, seed=1)


def test_loss_falls_and_classifier_learns(capsys):
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.05)
    trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), progress=False)
    history = trainer.fit(batches(X, Y, 16), epochs=12, val_loader=batches(XV, YV, 16))
    assert history is trainer.history
    assert history["epoch"] == list(range(1, 13))
    assert history["train_loss"][-1] < 0.3 * history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert all(t >= 0 for t in history["time"])
    assert history["lr"] == [0.05] * 12
    assert trainer.epoch == 12 and trainer.global_step == 12 * 6
    assert capsys.readouterr().out == ""  # progress=False is silent


def fixed_logits_model():
    """Linear(3, 3) with identity weight and zero bias: outputs == inputs."""
    model = as_dtype(nn.Linear(3, 3), np.float64)
    model.weight.data[...] = np.eye(3)
    model.bias.data[...] = 0.0
    return model


def test_evaluate_loss_and_accuracy_are_sample_weighted():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(10, 3))
    targets = rng.integers(0, 3, size=10)
    loader = [(Tensor(logits[s], dtype=np.float64), Tensor(targets[s]))
              for s in (slice(0, 4), slice(4, 8), slice(8, 10))]  # uneven batches
    model = fixed_logits_model()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress=False)
    result = trainer.evaluate(loader)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected_loss = -log_probs[np.arange(10), targets].mean()
    expected_acc = np.mean(logits.argmax(axis=1) == targets)
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert result["accuracy"] == pytest.approx(expected_acc)
    assert 0 < expected_acc < 1  # the case is not trivial


def test_evaluate_regression_has_no_accuracy():
    model = as_dtype(nn.Linear(2, 1), np.float64)
    loader = [(Tensor(X[:8], dtype=np.float64), Tensor(X[:8, :1], dtype=np.float64))]
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(),
                            progress=False)
    result = trainer.evaluate(loader)
    assert result["accuracy"] is None
    expected = np.mean((X[:8] @ model.weight.data.T + model.bias.data - X[:8, :1]) ** 2)
    assert result["loss"] == pytest.approx(expected, rel=1e-12)


class ModeRecorder(nn.Module):
    """Records (training flag, grad mode) at every forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, is_grad_enabled()))
        return self.fc(x)


def test_train_mode_with_grad_then_eval_mode_without():
    model = ModeRecorder()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress=False)
    trainer.fit(batches(X[:32], Y[:32], 16), epochs=1, val_loader=batches(XV[:16], YV[:16], 8))
    assert model.seen == [(True, True)] * 2 + [(False, False)] * 2
    model.train()
    trainer.evaluate(batches(XV[:16], YV[:16], 8))
    assert model.training  # the previous mode is restored
    assert is_grad_enabled()


@pytest.mark.parametrize("n_batches", [4, 5])  # 5: the last group holds a single batch
def test_accumulation_equals_one_big_batch_for_sgd(n_batches):
    n = 4 * n_batches
    x, y = X[:n], Y[:n]
    small, big = mlp(3, np.float64), mlp(3, np.float64)
    loss = nn.CrossEntropyLoss()
    t_small = optim.Trainer(small, optim.SGD(small.parameters(), lr=0.2, momentum=0.9), loss,
                            accumulation_steps=2, progress=False)
    t_big = optim.Trainer(big, optim.SGD(big.parameters(), lr=0.2, momentum=0.9), loss,
                          progress=False)
    t_small.fit(batches(x, y, 4, np.float64), epochs=2)
    t_big.fit(batches(x, y, 8, np.float64), epochs=2)
    assert t_small.global_step == t_big.global_step == 2 * ((n_batches + 1) // 2)
    initial = params_of(mlp(3, np.float64))
    for a, b, c in zip(small.parameters(), big.parameters(), initial):
        assert np.all(np.isfinite(a.data)) and not np.allclose(a.data, c)  # it did train
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)
    # sample-weighted epoch losses agree too
    np.testing.assert_allclose(t_small.history["train_loss"][0], t_big.history["train_loss"][0],
                               rtol=1e-12)


def test_nan_loss_names_epoch_and_batch_and_keeps_parameters():
    model = mlp()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress=False)
    clean = batches(X[:64], Y[:64], 16)
    trainer.fit(clean, epochs=1)
    poisoned = list(clean)
    x_bad = X[32:48].copy()
    x_bad[5, 0] = np.nan
    poisoned[2] = (Tensor(x_bad), poisoned[2][1])
    snapshots = []

    class Spy(optim.SGD):
        def step(self, closure=None):
            result = super().step(closure)
            snapshots.append(params_of(model))  # the parameters after each update
            return result

    trainer.optimizer = Spy(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 3") as info:
        trainer.train_epoch(poisoned)
    assert isinstance(info.value, optim.NonFiniteLossError)
    assert info.value.epoch == 2 and info.value.batch == 3 and np.isnan(info.value.loss)
    # the two clean batches were applied; the poisoned one never reached the parameters
    assert len(snapshots) == 2
    for a, p in zip(snapshots[-1], model.parameters()):
        assert np.all(np.isfinite(p.data))
        np.testing.assert_array_equal(a, p.data)
    assert all(p.grad is None for p in model.parameters())
    assert trainer.epoch == 1  # the epoch did not complete

def test_scheduler_steps_per_optimizer_step_or_per_epoch():
    for every, expected_last_step in (("step", 2 * 3), ("epoch", 2)):
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1)
        sched = optim.StepSchedule(opt, step_size=1, gamma=0.5)
        trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched,
                                accumulation_steps=2, progress=False, schedule_every=every)
        trainer.fit(batches(X[:96], Y[:96], 16), epochs=2)  # 6 batches -> 3 steps / epoch
        assert sched.last_step == expected_last_step
    # history records the lr of each epoch's last step (per-epoch schedule: 0.1, then 0.05)
    assert trainer.history["lr"] == [0.1, 0.05]


def test_grad_clip_bounds_each_update():
    model = mlp()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=1.0),
                            nn.CrossEntropyLoss(), grad_clip_norm=0.01, progress=False)
    before = params_of(model)
    trainer.train_epoch(batches(X[:16], Y[:16], 16))  # one step
    step = np.sqrt(sum(np.sum((a - p.data) ** 2) for a, p in zip(before, model.parameters())))
    assert trainer.last_grad_norm > 0.01
    assert step == pytest.approx(0.01, rel=1e-3)


# ------------------------------------------------------------------ progress
def test_plain_text_progress(capsys):
    model = mlp()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress="text")
    trainer.fit(batches(X[:32], Y[:32], 16), epochs=2, val_loader=batches(XV, YV, 16))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")
    assert "train_loss" in lines[0] and "val_loss" in lines[0] and "val_acc" in lines[0]


def test_fallback_to_text_when_tqdm_is_absent(monkeypatch, capsys):
    monkeypatch.setattr(trainer_module, "_load_tqdm", lambda: None)  # simulate no tqdm
    model = mlp()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress=True)
    trainer.fit(batches(X[:32], Y[:32], 16), epochs=1)
    assert capsys.readouterr().out.startswith("epoch 1/1  train_loss ")
    with pytest.raises(ImportError, match="tqdm"):
        optim.Trainer(model, trainer.optimizer, nn.CrossEntropyLoss(), progress="tqdm")


def test_tqdm_progress_bar(capsys):
    pytest.importorskip("tqdm")
    model = mlp()
    trainer = optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                            nn.CrossEntropyLoss(), progress="tqdm")
    trainer.fit(batches(X[:32], Y[:32], 16), epochs=2)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "epoch 1/2  train_loss" in text and "epoch 2/2  train_loss" in text


# --------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs,exc,word", [
    ({"accumulation_steps": 0}, ValueError, "accumulation_steps"),
    ({"accumulation_steps": 1.5}, TypeError, "accumulation_steps"),
    ({"grad_clip_norm": -1.0}, ValueError, "grad_clip_norm"),
    ({"progress": "bar"}, ValueError, "progress"),
    ({"schedule_every": "batch"}, ValueError, "schedule_every"),
    ({"scheduler": object()}, TypeError, "scheduler"),
])
def test_bad_trainer_arguments(kwargs, exc, word):
    model = mlp()
    with pytest.raises(exc, match=word):
        optim.Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                      **kwargs)


def test_bad_model_optimizer_and_batches():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="model"):
        optim.Trainer(lambda x: x, opt, nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="optimizer"):
        optim.Trainer(model, "sgd", nn.CrossEntropyLoss())
    trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), progress=False)
    with pytest.raises(TypeError, match="batch 1 is a 3-element tuple"):
        trainer.train_epoch([(Tensor(X[:4]), Tensor(Y[:4]), None)])
    with pytest.raises(ValueError, match="no batches"):
        trainer.train_epoch([])
    with pytest.raises(ValueError, match="no batches"):
        trainer.evaluate([])
    none_loss = optim.Trainer(model, opt, nn.CrossEntropyLoss(reduction="none"), progress=False)
    with pytest.raises(ValueError, match="one-element"):
        none_loss.train_epoch(batches(X[:8], Y[:8], 8))
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(batches(X[:8], Y[:8], 8), epochs=-1)


# ------------------------------------------------------------- checkpoints
def make_run(seed):
    """Model, optimizer (with two groups), schedule and trainer of the resume tests."""
    model = mlp(seed)
    opt = optim.AdamW([{"params": list(model[0].parameters()), "lr": 0.02},
                       {"params": list(model[2].parameters())}], lr=0.01, weight_decay=0.05)
    sched = optim.LinearWarmup(opt, 3, after=optim.CosineSchedule(opt, T_max=20,
                                                                    eta_min=1e-4))
    trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched,
                            grad_clip_norm=1.0, accumulation_steps=2, progress=False)
    return trainer


def test_checkpoint_resume_equals_uninterrupted_training(tmp_path):
    train, val = batches(X, Y, 16), batches(XV, YV, 16)
    full = make_run(seed=0)
    full.fit(train, epochs=4, val_loader=val)

    first = make_run(seed=0)
    first.fit(train, epochs=2, val_loader=val)
    path = tmp_path / "run.ckpt.npz"
    first.save_checkpoint(path)
    saved_history = {k: list(v) for k, v in first.history.items()}

    resumed = make_run(seed=123)  # different initial weights: all must come from the file
    resumed.load_checkpoint(path)
    assert resumed.epoch == 2 and resumed.global_step == first.global_step
    assert resumed.history == saved_history
    assert resumed.scheduler.get_last_lr() == first.scheduler.get_last_lr()
    resumed.fit(train, epochs=4, val_loader=val)

    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    for key in ("epoch", "train_loss", "val_loss", "val_accuracy", "lr"):
        assert resumed.history[key] == full.history[key], key
    full_opt, res_opt = full.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert full_opt["param_groups"] == res_opt["param_groups"]
    for i, entry in full_opt["state"].items():
        for k, v in entry.items():
            np.testing.assert_array_equal(v, res_opt["state"][i][k])


def test_fit_saves_a_checkpoint_every_epoch(tmp_path):
    path = tmp_path / "last.npz"
    trainer = make_run(seed=0)
    trainer.fit(batches(X, Y, 32), epochs=2, checkpoint_path=path)
    state = optim.load_state(path)
    assert state["epoch"] == 2 and state["history"]["epoch"] == [1, 2]
    assert os.listdir(tmp_path) == ["last.npz"]


def test_interrupted_checkpoint_save_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    trainer = make_run(seed=0)
    trainer.fit(batches(X, Y, 32), epochs=1)
    trainer.save_checkpoint(path)
    at_epoch_1 = params_of(trainer.model)
    trainer.fit(batches(X, Y, 32), epochs=2)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(optim.checkpoint.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    restored = make_run(seed=7)
    restored.load_checkpoint(path)
    assert restored.epoch == 1
    for a, p in zip(at_epoch_1, restored.model.parameters()):
        np.testing.assert_array_equal(a, p.data)


def test_load_checkpoint_mismatches_change_nothing(tmp_path):
    path = tmp_path / "ckpt.npz"
    make_run(seed=0).save_checkpoint(path)

    model = mlp(5)
    plain = optim.Trainer(model, optim.AdamW(model.parameters()), nn.CrossEntropyLoss(),
                          progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        plain.load_checkpoint(path)

    # same architecture but the optimizer has one group instead of two: the model
    # part loads first and must be rolled back when the optimizer part fails
    model = mlp(5)
    before = params_of(model)
    opt = optim.AdamW(model.parameters())
    wrong = optim.Trainer(model, opt, nn.CrossEntropyLoss(),
                          scheduler=optim.LinearWarmup(opt, 3, after=optim.CosineSchedule(
                              opt, T_max=20, eta_min=1e-4)), progress=False)
    with pytest.raises(ValueError, match="group"):
        wrong.load_checkpoint(path)
    for a, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(a, p.data)
    assert wrong.epoch == 0

    optim.save_state(tmp_path / "other.npz", {"kind": "something else"})
    with pytest.raises(ValueError, match="Trainer checkpoint"):
        wrong.load_checkpoint(tmp_path / "other.npz")
