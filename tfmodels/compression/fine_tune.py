"""The short recovery fine-tune after a compression step, with Keras ``fit``.

Compressed models (QAT, pruning and clustering wrappers) are plain functional
Keras models whose TF-MOT callbacks (``UpdatePruningStep``) expect ``fit``; the
optimizer is the project's AdamW with warm-up and linear decay.
"""

import tf_keras as keras

from tfmodels.tasks.classification import make_dataset
from tfmodels.training.fused_adamw import FusedAdamW
from tfmodels.training.optimization import NO_DECAY, WarmupLinearDecay


def classification_dataset(examples, preprocessor, batch_size, seed=0):
    """Repeated, shuffled ``(features, {"logits": labels})`` batches for ``fit``."""
    dataset = make_dataset(examples, preprocessor, batch_size, training=True, seed=seed)
    return dataset.map(lambda features, labels: (features, {"logits": labels}))


def fine_tune(
    model, dataset, steps, learning_rate=2e-5, warmup_fraction=0.1, callbacks=(), verbose=2
):
    """Trains ``model`` (outputs include ``logits``) for ``steps`` batches of ``dataset``."""
    schedule = WarmupLinearDecay(learning_rate, steps, int(warmup_fraction * steps))
    optimizer = FusedAdamW(learning_rate=schedule, weight_decay=0.01, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    model.compile(
        optimizer=optimizer,
        loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        metrics={"logits": ["accuracy"]},
    )
    history = model.fit(
        dataset, steps_per_epoch=steps, epochs=1, callbacks=list(callbacks), verbose=verbose
    )
    return {k: float(v[-1]) for k, v in history.history.items()}
