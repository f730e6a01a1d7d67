"""The Task contract and run_experiment: a new kind of run is one Task class.

The smallest task there is (one Dense layer learning y = 2x) is registered as a task
type; the driver must then do for it what it does for every script: train and resume,
keep the best checkpoint, evaluate it, write eval_results.json, metrics.json, the
history and the curves, and serve --mode=eval from the run's best checkpoint.
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.training import task as task_module
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import TaskConfig, load_experiment
from tfmodels.training.task import Task


@dataclasses.dataclass
class DoublingConfig(TaskConfig):
    type: str = "doubling"
    examples: int = 64


class DoublingTask(Task):
    Config = DoublingConfig
    main_metric = "dev/neg_mse"

    def build_model(self):
        model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
        model.build((None, 1))
        return model

    def _data(self, seed):
        x = np.random.default_rng(seed).uniform(-1, 1, (self.section.examples, 1))
        return x.astype(np.float32), (2 * x).astype(np.float32)

    def train_dataset(self):
        x, y = self._data(0)
        return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(
            self.cfg.data.train_batch_size
        ), len(x)

    def loss(self):
        def loss_fn(model, batch, training):
            x, y = batch
            loss = tf.reduce_mean(tf.square(model(x, training=training) - y))
            return loss, {}

        return loss_fn

    def evaluate(self, model):
        x, y = self._data(1)
        return {"dev/neg_mse": -float(np.mean((model(x).numpy() - y) ** 2))}

    def save(self, model, model_dir):
        self.saved = model.get_weights()


@pytest.fixture()
def doubling(monkeypatch):
    monkeypatch.setitem(task_module.TASK_TYPES, "doubling", f"{__name__}:DoublingTask")

    def config(*sets):
        return load_experiment(
            None,
            [
                "task.type=doubling",
                "optimizer.lr=0.3",
                "optimizer.weight_decay=0",
                "schedule.warmup_steps=0",
                "data.train_batch_size=8",
                "trainer.checkpoint_every=10",
                "trainer.log_every=10",
                *sets,
            ],
        )

    return config


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
    assert lines[0].startswith("training doubling for 40 steps, 1 replica(s), float32")
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
        ConfigError, match="unknown key 'task.data_dir'; known keys: task.examples, task.type"
    ):
        doubling("task.data_dir=x")
