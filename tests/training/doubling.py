"""The smallest task there is, for the driver's tests: a Dense network learning y = 2x,
registered as the task type ``doubling`` by the :func:`doubling` fixture (which returns a
config maker taking ``--set`` strings)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.dropout import Dropout
from tfmodels.training import task as task_module
from tfmodels.training.experiment import TaskConfig, load_experiment
from tfmodels.training.task import Task


@dataclasses.dataclass
class DoublingConfig(TaskConfig):
    type: str = "doubling"
    examples: int = 64
    width: int = 1  # of the first Dense layer
    dropout: float = 0.0  # > 0: Dense(width), Dropout, Dense(1)


class DoublingTask(Task):
    Config = DoublingConfig
    main_metric = "dev/neg_mse"

    def build_model(self):
        layers = [keras.layers.Dense(self.section.width, input_shape=(1,))]
        if self.section.dropout:
            layers += [Dropout(self.section.dropout), keras.layers.Dense(1)]
        model = keras.Sequential(layers)
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
            prediction = tf.cast(model(x, training=training), tf.float32)  # as under bf16
            loss = tf.reduce_mean(tf.square(prediction - y))
            return loss, {}

        return loss_fn

    def evaluate(self, model):
        x, y = self._data(1)
        prediction = tf.cast(model(x), tf.float32).numpy()
        return {"dev/neg_mse": -float(np.mean((prediction - y) ** 2))}

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
