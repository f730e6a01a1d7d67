"""A run directory knows its run, a stop saves, one seed reproduces, a resume repeats.

On the driver with the smallest task (``doubling``: Dense(8), Dropout, Dense(1) learning
y = 2x), so each property is checked on the code path every script shares.
"""

import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import CheckpointError, ConfigError, Preempted
from tfmodels.training import run_dir
from tfmodels.training.driver import run_experiment

STEPS = "trainer.train_steps=30"
NET = ("task.width=8", "task.dropout=0.3")


def _final_weights(model_dir):
    """The model's variables in the run's last checkpoint, by checkpoint key."""
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("model/")]
    assert keys
    return {k: reader.get_tensor(k) for k in keys}


def _assert_equal_weights(a, b, atol=0.0):
    a, b = _final_weights(a), _final_weights(b)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)


def test_a_run_dir_of_another_config_is_refused_and_overwrite_starts_afresh(doubling, tmp_path):
    model_dir = str(tmp_path / "run")
    lines = []
    run_experiment(doubling(STEPS, *NET), model_dir, log=lines.append)
    assert os.path.isfile(os.path.join(model_dir, run_dir.CONFIG_FILE))

    with pytest.raises(ConfigError) as refused:
        run_experiment(doubling(STEPS, *NET, "optimizer.lr=0.1"), model_dir, log=lines.append)
    message = str(refused.value)
    assert "holds a run of another configuration" in message
    assert "optimizer.lr: 0.3 -> 0.1" in message and "--overwrite" in message

    # Safe to resume with: more steps and another log interval, logged.
    lines.clear()
    report = run_experiment(
        doubling("trainer.train_steps=40", *NET, "trainer.log_every=5"), model_dir, log=lines.append
    )
    assert report["steps"] == 40 and report["steps_this_run"] == 10
    assert any("trainer.train_steps: 30 -> 40" in line for line in lines)

    # --overwrite replaces the run: training starts again at step 0, best/ is new.
    lines.clear()
    report = run_experiment(
        doubling(STEPS, *NET, "optimizer.lr=0.1"), model_dir, log=lines.append, overwrite=True
    )
    assert report["steps_this_run"] == 30
    assert any(line.startswith("--overwrite: removing the previous run") for line in lines)
    assert run_dir.read_config(model_dir)["optimizer"]["lr"] == 0.1

    # A finished run says that nothing is left to train.
    lines.clear()
    run_experiment(doubling(STEPS, *NET, "optimizer.lr=0.1"), model_dir, log=lines.append)
    assert any("already reached step 30 of 30: nothing to train" in line for line in lines)


def test_a_checkpoint_of_another_model_is_refused_not_restored_in_part(doubling, tmp_path):
    model_dir = str(tmp_path / "run")
    run_experiment(doubling(STEPS, *NET), model_dir, log=lambda line: None)
    os.remove(os.path.join(model_dir, run_dir.CONFIG_FILE))  # a run of an earlier version
    for mode in ("train_and_eval", "eval"):
        with pytest.raises(CheckpointError, match="does not fit the model being built"):
            run_experiment(
                doubling(STEPS, "task.width=4", "task.dropout=0.3"), model_dir, mode, log=print
            )


def test_one_seed_gives_equal_weights_and_another_seed_other_weights(doubling, tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run_experiment(
            doubling(STEPS, *NET, f"trainer.seed={seed}"), str(tmp_path / name), log=lambda x: None
        )
    _assert_equal_weights(tmp_path / "a", tmp_path / "b")
    with pytest.raises(AssertionError):
        _assert_equal_weights(tmp_path / "a", tmp_path / "c")


def _stop_at(step, how):
    """A log function that sends SIGTERM (or raises, as a kill -9 would end the process)
    once the progress line of ``step`` is printed."""

    def log(line):
        if line.startswith(f"step {step}/"):
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise RuntimeError("killed")

    return log


def test_sigterm_saves_the_current_step_and_the_resumed_run_equals_a_straight_one(
    doubling, tmp_path
):
    sets = (STEPS, *NET, "trainer.checkpoint_every=100", "trainer.log_every=1")
    straight = str(tmp_path / "straight")
    run_experiment(doubling(*sets), straight, log=lambda line: None)

    stopped = str(tmp_path / "stopped")
    with pytest.raises(Preempted, match="stopped by SIGTERM at step 13 of 30") as e:
        run_experiment(doubling(*sets), stopped, log=_stop_at(13, "sigterm"))
    assert "running the same command again resumes" in str(e.value)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is removed
    lines = []
    report = run_experiment(doubling(*sets), stopped, log=lines.append)
    assert report["steps_this_run"] == 17
    assert any(line.startswith("resumed from") and "at step 13" in line for line in lines)
    _assert_equal_weights(straight, stopped, atol=1e-6)


def test_a_killed_run_resumes_from_its_last_checkpoint_to_the_same_weights(doubling, tmp_path):
    sets = (STEPS, *NET, "trainer.checkpoint_every=10", "trainer.log_every=1")
    straight = str(tmp_path / "straight")
    run_experiment(doubling(*sets), straight, log=lambda line: None)
    killed = str(tmp_path / "killed")
    with pytest.raises(RuntimeError, match="killed"):  # after step 17: steps 11-17 are lost
        run_experiment(doubling(*sets), killed, log=_stop_at(17, "kill"))
    report = run_experiment(doubling(*sets), killed, log=lambda line: None)
    assert report["steps_this_run"] == 20
    _assert_equal_weights(straight, killed, atol=1e-6)


def test_a_run_lives_wherever_tf_io_gfile_reaches(doubling):
    """``ram://`` stands in for ``gs://``: config, checkpoints, best/, history, curves and
    reports all go through tf.io.gfile, and the run resumes there."""
    model_dir = "ram://runs/doubling"
    run_experiment(doubling(STEPS, *NET), model_dir, log=lambda line: None)
    for name in ("config.yaml", "metrics.json", "history.json", "training_curves.png"):
        assert tf.io.gfile.exists(f"{model_dir}/{name}"), name
    assert tf.train.latest_checkpoint(f"{model_dir}/checkpoints").endswith("-30")
    assert tf.train.latest_checkpoint(f"{model_dir}/best")
    assert not [n for n in tf.io.gfile.listdir(model_dir) if ".tmp-" in n]
    lines = []
    report = run_experiment(doubling("trainer.train_steps=35", *NET), model_dir, log=lines.append)
    assert report["steps_this_run"] == 5
    assert any(line.startswith("resumed from ram://") for line in lines)


def test_deterministic_turns_on_tensorflows_op_determinism(doubling, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append("on"))
    run_experiment(doubling("trainer.train_steps=2"), str(tmp_path / "a"), log=lambda x: None)
    assert calls == []
    sets = ("trainer.train_steps=2", "runtime.deterministic=true")
    run_experiment(doubling(*sets), str(tmp_path / "b"), log=lambda x: None)
    assert calls == ["on"]


def test_a_run_puts_the_callers_precision_policy_back(doubling, tmp_path):
    """A bfloat16 run sets the global policy while it trains; a model built after it in
    the same process (a compression study, a notebook) is float32 again."""
    lines = []
    report = run_experiment(
        doubling("trainer.train_steps=2", *NET, "runtime.mixed_precision=mixed_bfloat16"),
        str(tmp_path / "run"),
        log=lines.append,
    )
    assert report["precision"] == "mixed_bfloat16"  # what ran, in the report
    assert any("precision mixed_bfloat16" in line for line in lines)
    assert tf.keras.mixed_precision.global_policy().name == "float32"
