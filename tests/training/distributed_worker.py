"""Trains a tiny classifier for a few steps under a strategy; writes its final weights.

Plain SGD and no dropout, so that the result depends only on the global batch: replicas
and workers must reach the weights of single-device training (Adam would hide a wrong
loss scaling, since it divides by the gradient's own scale).

Run as a subprocess by test_distribution.py:
    python distributed_worker.py STRATEGY NUM_CPU_DEVICES MODEL_DIR OUT.npz
(with TF_CONFIG set for multi_worker_mirrored).
"""

import sys

import numpy as np
import tensorflow as tf

# isort: off  (tfmodels selects Keras 2 before TensorFlow loads)
import tfmodels  # noqa: F401

# isort: on

strategy_name, devices, model_dir, out_path = (
    sys.argv[1],
    int(sys.argv[2]),
    sys.argv[3],
    sys.argv[4],
)
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)

from tfmodels.models import bert  # noqa: E402
from tfmodels.tasks.classification import loss_fn, predict_logits  # noqa: E402
from tfmodels.training.distribution import get_strategy  # noqa: E402
from tfmodels.training.trainer import Trainer  # noqa: E402

strategy = get_strategy(strategy_name)
tf.keras.utils.set_random_seed(1)
with strategy.scope():
    model = bert.BertForSequenceClassification(
        bert.Config(
            vocab_size=50,
            hidden_size=16,
            num_layers=1,
            num_heads=2,
            intermediate_size=32,
            max_position_embeddings=16,
            hidden_dropout=0.0,
            attention_dropout=0.0,
        ),
        num_labels=2,
    )
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.5)
initial = [w.numpy() for w in model.weights]
rng = np.random.default_rng(0)
ids = rng.integers(1, 50, size=(64, 8)).astype(np.int32)
features = {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}
labels = (ids[:, 0] % 2).astype(np.int32)
dataset = tf.data.Dataset.from_tensor_slices((features, labels)).repeat().batch(8)
# Evaluation batches of 5 and 2 rows: shared out unevenly over the replicas (one empty).
eval_batches = [
    {k: v[:5] for k, v in features.items()},
    {k: v[5:7, :5] for k, v in features.items()},
]
evaluated = []
trainer = Trainer(
    strategy,
    model_dir,
    model,
    optimizer,
    loss_fn,
    total_steps=4,
    checkpoint_every=2,
    log_every=2,
    steps_per_loop=2,  # both steps between checkpoints in one call, under the strategy
    global_batch_size=8,
    evaluate=lambda: evaluated.append(predict_logits(model, eval_batches)) or {},
    eval_every=4,
)
trainer.train(dataset)
np.savez(
    out_path,
    replicas=strategy.num_replicas_in_sync,
    logits=evaluated[-1],
    changed=any(not np.allclose(a, w.numpy()) for a, w in zip(initial, model.weights)),
    **{f"w{i}": w.numpy() for i, w in enumerate(model.weights)},
)
