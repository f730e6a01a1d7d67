"""Experiment YAML, --set overrides and their errors; the optimizer and schedule."""
import os

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.training.experiment import load_experiment
from tfmodels.training.optimization import WarmupLinearDecay, create_optimizer


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("task:\n  name: mrpc\noptimizer:\n  lr: 3.0e-5\n")
    cfg = load_experiment(str(path), ["trainer.train_steps=1000", "optimizer.lr=2e-5",
                                      "report.sample_texts=[a, b]"])
    assert cfg.task.name == "mrpc"
    assert cfg.trainer.train_steps == 1000
    assert cfg.optimizer.lr == pytest.approx(2e-5)
    assert cfg.report.sample_texts == ["a", "b"]


def test_unknown_key_and_wrong_type_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'trainer.train_stepz'"):
        load_experiment(None, ["trainer.train_stepz=3"])
    with pytest.raises(ConfigError, match="'trainer.train_steps' must be int, got 'many'"):
        load_experiment(None, ["trainer.train_steps=many"])
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_experiment(None, ["trainer.train_steps"])


def test_every_shipped_experiment_config_loads():
    import glob

    from tfmodels.compression.distill_experiment import DistillExperimentConfig
    from tfmodels.tasks.multitask_experiment import MultitaskExperimentConfig
    from tfmodels.tasks.seq2seq_experiment import Seq2SeqExperimentConfig
    from tfmodels.tasks.squad_experiment import SquadExperimentConfig
    from tfmodels.tasks.tagging_experiment import TaggingExperimentConfig

    # Experiments of scripts with sections of their own, by file name prefix.
    classes = {"distill_": DistillExperimentConfig, "mtdnn_": MultitaskExperimentConfig,
               "squad_": SquadExperimentConfig, "conll": TaggingExperimentConfig,
               "seq2seq_": Seq2SeqExperimentConfig}
    files = glob.glob("configs/experiments/*.yaml")
    assert files
    for path in files:
        name = os.path.basename(path)
        config_class = next((c for prefix, c in classes.items() if name.startswith(prefix)),
                            None)
        load_experiment(path, config_class=config_class)


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)


def test_no_weight_decay_on_layer_norm_and_bias():
    cfg = load_experiment(None, ["optimizer.weight_decay=0.5", "optimizer.lr=0.1",
                                 "schedule.warmup_steps=0", "optimizer.clipnorm=null"])
    optimizer = create_optimizer(cfg.optimizer, cfg.schedule, total_steps=10)
    kernel = tf.Variable(tf.ones([2]), name="dense/kernel")
    bias = tf.Variable(tf.ones([2]), name="dense/bias")
    gamma = tf.Variable(tf.ones([2]), name="layer_norm/gamma")
    optimizer.apply_gradients([(tf.zeros([2]), v) for v in (kernel, bias, gamma)])
    assert float(kernel[0]) < 1.0  # decayed
    assert float(bias[0]) == 1.0 and float(gamma[0]) == 1.0
