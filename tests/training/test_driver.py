"""The Task contract and run_experiment: a new kind of run is one Task class.

The smallest task there is (one Dense layer learning y = 2x) is registered as a task
type; the driver must then do for it what it does for every script: train and resume,
keep the best checkpoint, evaluate it, write eval_results.json, metrics.json, the
history and the curves, and serve --mode=eval from the run's best checkpoint.
"""

import json
import os

import pytest

from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.training.driver import restore_trained, run_experiment


def test_a_new_task_gets_training_resume_best_checkpoint_and_reports(doubling, tmp_path):
    model_dir = str(tmp_path / "run")
    lines = []
    report = run_experiment(doubling("trainer.train_steps=40"), model_dir, log=lines.append)
    assert report["task"] == "doubling" and report["steps"] == 40
    assert report["eval"]["dev/neg_mse"] > -0.05  # it learned y = 2x
    assert report["eval"]["checkpoint"].startswith(os.path.join(model_dir, "best"))
    with open(os.path.join(model_dir, "eval_results.json")) as f:
        assert json.load(f) == report["eval"]
    with open(os.path.join(model_dir, "metrics.json")) as f:
        assert json.load(f)["steps"] == 40
    with open(os.path.join(model_dir, "best", "best.json")) as f:
        assert json.load(f)["metric"] == "dev/neg_mse"
    assert os.path.isfile(os.path.join(model_dir, "training_curves.png"))
    assert lines[0].startswith("precision float32 (auto: the CPU has no bfloat16")
    assert lines[1].startswith("training doubling for 40 steps, 1 replica(s), float32")
    assert any(line.startswith("main metric dev/neg_mse; wall time") for line in lines)

    # More steps on the same folder: resumed, not restarted.
    report = run_experiment(doubling("trainer.train_steps=50"), model_dir, log=lines.append)
    assert report["steps"] == 50 and report["steps_this_run"] == 10
    assert any(line.startswith("resumed from") for line in lines)

    # --mode=eval evaluates the run's best checkpoint, not a fresh model.
    results = run_experiment(
        doubling("trainer.train_steps=50"), model_dir, "eval", log=lines.append
    )
    assert results["dev/neg_mse"] > -0.05
    assert results["checkpoint"].startswith(os.path.join(model_dir, "best"))


def test_modes_and_model_dir_are_checked_before_anything_runs(doubling, tmp_path):
    with pytest.raises(
        ConfigError, match="--mode: unknown mode 'train'; known: train_and_eval, eval, predict"
    ):
        run_experiment(doubling(), str(tmp_path / "run"), "train")
    with pytest.raises(ConfigError, match="--model_dir is required"):
        run_experiment(doubling(), None)
    with pytest.raises(ConfigError, match="--mode=predict: doubling runs have no prediction"):
        run_experiment(doubling(), str(tmp_path / "run"), "predict")
    with pytest.raises(
        ConfigError,
        match="unknown key 'task.data_dir'; known keys: task.dropout, task.examples, task.type",
    ):
        doubling("task.data_dir=x")


def test_a_best_checkpoint_state_without_its_files_is_an_error_not_other_weights(tmp_path):
    best = tmp_path / "best"
    best.mkdir()
    (best / "checkpoint").write_text('model_checkpoint_path: "../../../ckpt-150"\n')
    with pytest.raises(CheckpointError, match="best/checkpoint names a checkpoint"):
        restore_trained(None, str(tmp_path))
    assert restore_trained(None, str(tmp_path / "empty")) is None  # no run there: nothing
