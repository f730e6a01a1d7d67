"""The training loop: gradient accumulation, mixed precision, XLA, best-checkpoint keeping."""

import dataclasses
import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.models import bert
from tfmodels.tasks import batching
from tfmodels.tasks.classification import loss_fn
from tfmodels.training.experiment import load_experiment
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.run_dir import restore_checkpoint
from tfmodels.training.trainer import Trainer, add_gradients

CONFIG = bert.Config(
    vocab_size=50,
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
    hidden_dropout=0.0,
    attention_dropout=0.0,
)


def data(n=8):
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, size=(n, 6)).astype(np.int32)
    features = {
        "input_ids": ids,
        "input_mask": np.ones_like(ids),
        "segment_ids": np.zeros_like(ids),
    }
    return features, (ids[:, 0] % 2).astype(np.int32)


def train(
    tmp_path,
    batch,
    accumulation,
    steps=1,
    seed=3,
    poisoned=None,
    config=CONFIG,
    model=None,
    **kwargs,
):
    """Trains ``model`` (default: a new one of ``config``) ``steps`` steps: (model, trainer)."""
    tf.keras.utils.set_random_seed(seed)
    if model is None:
        model = bert.BertForSequenceClassification(config)
    cfg = load_experiment(None, ["schedule.warmup_steps=0", "optimizer.lr=1e-2"])
    optimizer = create_optimizer(cfg.optimizer, cfg.schedule, total_steps=100)
    features, labels = data()
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(batch).repeat()
    trainer = Trainer(
        tf.distribute.get_strategy(),
        str(tmp_path),
        model,
        optimizer,
        poisoned or loss_fn,
        total_steps=steps,
        accumulation_steps=accumulation,
        **{"checkpoint_every": 1, "log_every": 1, "log": lambda *_: None, **kwargs},
    )
    trainer.train(dataset)
    return model, trainer


@pytest.mark.slow
def test_accumulating_two_half_batches_equals_one_full_batch(tmp_path):
    full, _ = train(tmp_path / "full", batch=8, accumulation=1)
    halves, _ = train(tmp_path / "halves", batch=4, accumulation=2)
    for a, b in zip(full.weights, halves.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    other, _ = train(tmp_path / "other", batch=4, accumulation=1)  # one half only: differs
    assert any(
        not np.allclose(a.numpy(), b.numpy(), atol=1e-6)
        for a, b in zip(full.weights, other.weights)
    )


def test_sparse_gradients_are_accumulated_sparse():
    model = bert.BertForSequenceClassification(CONFIG)
    features, labels = data()
    with tf.GradientTape() as tape:
        loss, _ = loss_fn(model, (features, labels), training=False)
    grads = tape.gradient(loss, model.trainable_variables)
    sparse = [g for g in grads if isinstance(g, tf.IndexedSlices)]
    assert sparse  # the word embeddings' gradient: accumulating it must not densify it
    summed = add_gradients(sparse[0], sparse[0])
    assert isinstance(summed, tf.IndexedSlices)
    np.testing.assert_allclose(
        tf.convert_to_tensor(summed).numpy(),
        2 * tf.convert_to_tensor(sparse[0]).numpy(),
        rtol=1e-5,
        atol=1e-9,
    )


def test_steps_per_loop_reaches_the_weights_of_one_step_per_call(tmp_path, monkeypatch):
    calls = []
    make_loop = Trainer._make_loop

    class Counted:
        def __init__(self, loop):
            self.loop = loop

        def __call__(self, n):
            calls.append(int(n))
            return self.loop(n)

        def __getattr__(self, name):
            return getattr(self.loop, name)

    def counted(self, iterator):
        return Counted(make_loop(self, iterator))

    monkeypatch.setattr(Trainer, "_make_loop", counted)
    dropout = dataclasses.replace(CONFIG, hidden_dropout=0.1)  # step-keyed draws too
    runs = {}
    for per_loop in (1, 4):
        calls.clear()
        runs[per_loop], trainer = train(
            tmp_path / str(per_loop),
            batch=4,
            accumulation=1,
            steps=7,
            config=dropout,
            checkpoint_every=5,
            log_every=100,
            steps_per_loop=per_loop,
        )
        assert trainer.step == 7
        # Loops end at the checkpoint (step 5) and at the end (step 7).
        assert calls == ([1] * 7 if per_loop == 1 else [4, 1, 2]), calls
        assert trainer.history[-1]["step"] == 7 and np.isfinite(trainer.history[-1]["loss"])
    for a, b in zip(runs[1].weights, runs[4].weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_batches_of_varying_length_trace_the_loop_once(tmp_path):
    features, labels = data()
    # Batches of 2 cut to their longest row + 1 rounded up to even: 2, 4, 6 and 6 positions.
    lengths = np.array([1, 1, 2, 3, 5, 6, 4, 1])
    features["input_mask"] = (np.arange(6) < lengths[:, None]).astype(np.int32)
    widths = []

    def cut(f, y):
        f = batching.cut_to_longest(f, batching.mask_lengths(f["input_mask"]), multiple=2)
        return f, y

    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(2).map(cut).repeat()
    widths = {int(f["input_ids"].shape[1]) for f, _ in dataset.take(4)}
    assert widths == {2, 4, 6}
    lines = []
    trainer = Trainer(
        tf.distribute.get_strategy(),
        str(tmp_path),
        bert.BertForSequenceClassification(CONFIG),
        keras.optimizers.SGD(0.1),
        loss_fn,
        total_steps=8,
        checkpoint_every=8,
        log_every=4,
        steps_per_loop=4,
        log=lines.append,
    )
    trainer.train(dataset)
    assert "training loop traced 1 time(s)" in lines


def test_tokens_are_counted_per_second(tmp_path):
    lines = []
    _, trainer = train(tmp_path, batch=4, accumulation=2, steps=2, log=lines.append)
    assert any(" tokens/s " in line for line in lines), lines
    assert "tokens" not in trainer.history[-1]  # a rate, not a mean


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_steps(tmp_path, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model, trainer = train(
            tmp_path, batch=4, accumulation=1, steps=3, loss_scale=policy == "mixed_float16"
        )
        assert model.encoder.transformer_layers[0].compute_dtype == policy.split("_")[1]
        assert model.weights[0].dtype == tf.float32  # variables stay float32
        assert np.isfinite(trainer.history[-1]["loss"])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_xla_compiled_step_matches_the_plain_one(tmp_path):
    plain, _ = train(tmp_path / "plain", batch=8, accumulation=1, steps=2)
    xla, _ = train(tmp_path / "xla", batch=8, accumulation=1, steps=2, jit_compile=True)
    for a, b in zip(plain.weights, xla.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


def test_best_checkpoint_follows_the_main_metric(tmp_path):
    scores = iter([0.5, 0.9, 0.7])
    _, trainer = train(
        tmp_path,
        batch=8,
        accumulation=1,
        steps=3,
        eval_every=1,
        main_metric="dev/score",
        evaluate=lambda: {"dev/score": next(scores)},
    )
    with open(tmp_path / "best" / "best.json") as f:
        best = json.load(f)
    assert best["step"] == 2 and best["value"] == 0.9
    assert tf.train.latest_checkpoint(str(tmp_path / "best")).endswith("-2")


def best_of_three(tmp_path, **kwargs):
    """Trains 3 steps evaluated 0.5, 0.9, 0.7, keeping the weights of each step's
    checkpoint: (model, the best checkpoint's prefix, {step: the weights then})."""
    scores, weights = iter([0.5, 0.9, 0.7]), {}
    tf.keras.utils.set_random_seed(3)
    model = bert.BertForSequenceClassification(CONFIG)

    def evaluate():
        weights[len(weights) + 1] = [v.numpy() for v in model.weights]
        return {"dev/score": next(scores)}

    train(
        tmp_path,
        batch=8,
        accumulation=1,
        steps=3,
        model=model,
        eval_every=1,
        main_metric="dev/score",
        evaluate=evaluate,
        **kwargs,
    )
    return model, tf.train.latest_checkpoint(str(tmp_path / "best")), weights


def assert_restores(model, prefix, expected):
    restore_checkpoint(tf.train.Checkpoint(model=model), prefix)
    for v, e in zip(model.weights, expected):
        np.testing.assert_array_equal(v.numpy(), e)


def test_the_best_checkpoint_links_the_training_checkpoint_of_its_step(tmp_path):
    model, best, weights = best_of_three(tmp_path, checkpoint_every=1)
    assert best.endswith("ckpt-2")
    for name in ("ckpt-2.index", "ckpt-2.data-00000-of-00001"):  # no second write
        assert os.path.samefile(tmp_path / "best" / name, tmp_path / "checkpoints" / name)
    assert not list((tmp_path / "best").glob("ckpt-1*"))  # the previous best is gone
    assert str(tmp_path) not in (tmp_path / "best" / "checkpoint").read_text()  # relative
    assert_restores(model, best, weights[2])


def test_a_relative_model_dir_finds_its_linked_best_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as `make demo` runs: --model_dir=runs/demo
    model, best, weights = best_of_three(pathlib.Path("runs/demo"), checkpoint_every=1)
    assert best == os.path.join("runs", "demo", "best", "ckpt-2")
    state = (tmp_path / "runs/demo/best/checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-2"' in state
    assert_restores(model, best, weights[2])


def test_the_best_checkpoint_is_written_where_its_step_has_none(tmp_path, monkeypatch):
    # Steps 1 and 2 have no training checkpoint (every 3): the model is saved in best/.
    model, best, weights = best_of_three(tmp_path / "unsaved", checkpoint_every=3)
    assert best.endswith("ckpt-2")
    assert_restores(model, best, weights[2])
    # Nor where the filesystem cannot link.
    monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError("no links")))
    model, best, weights = best_of_three(tmp_path / "unlinked", checkpoint_every=1)
    assert best.endswith("ckpt-2")
    assert not os.path.samefile(best + ".index", tmp_path / "unlinked/checkpoints/ckpt-2.index")
    assert_restores(model, best, weights[2])


def nan_on(poisoned_steps):
    """``loss_fn`` whose loss is NaN on the given (1-based) steps."""
    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def poisoned(model, batch, training):
        loss, metrics = loss_fn(model, batch, training)
        counter.assign_add(1)
        bad = tf.reduce_any(tf.equal(counter, tf.constant(poisoned_steps, tf.int64)))
        # Times NaN, so the gradients are NaN too (a tf.where would give them zero).
        return loss * tf.where(bad, tf.constant(np.nan, loss.dtype), 1.0), metrics

    return poisoned


def test_a_nan_step_is_skipped_and_the_run_goes_on(tmp_path):
    clean, _ = train(tmp_path / "clean", batch=8, accumulation=1, steps=2)
    # Step 2's loss is NaN: its update is skipped, so the weights are those after step 1.
    once, _ = train(tmp_path / "once", batch=8, accumulation=1, steps=1)
    skipped, trainer = train(
        tmp_path / "nan", batch=8, accumulation=1, steps=2, poisoned=nan_on([2])
    )
    assert trainer.step == 2 and np.isnan(trainer.history[-1]["loss"])
    for a, b in zip(once.weights, skipped.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)
    assert any(
        not np.allclose(a.numpy(), b.numpy()) for a, b in zip(clean.weights, skipped.weights)
    )
    assert all(np.all(np.isfinite(w.numpy())) for w in skipped.weights)


def test_nan_steps_in_a_row_stop_the_run_with_one_line(tmp_path):
    from tfmodels.errors import TrainingError

    with pytest.raises(
        TrainingError,
        match=r"step 4: the loss was not finite for 3 steps in "
        r"a row",
    ):
        train(
            tmp_path,
            batch=8,
            accumulation=1,
            steps=6,
            poisoned=nan_on([2, 3, 4, 5, 6]),
            max_nonfinite_steps=3,
        )
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    reader = tf.train.load_checkpoint(latest)
    floats = [n for n, d in reader.get_variable_to_dtype_map().items() if d.is_floating]
    assert len(floats) > 10
    for name in floats:
        assert np.all(np.isfinite(reader.get_tensor(name))), name
