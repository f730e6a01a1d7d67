"""Classification training throughput: tfmodels' BERT vs TF Model Garden's BertEncoderV2.

Same configuration (L4 / H256 / A4 / I1024, seq 128, batch 32), same optimizer and
loss, measured in one process, rounds interleaved so machine noise hits both.
Prints steps/s of each and the ratio (ours / Model Garden) for float32 and
mixed_bfloat16. Needs tf-models-official (`make benchmark` installs it --no-deps).

    python benchmarks/train_throughput.py [--steps 10] [--rounds 3]   # ~16 min on 2 cores

mixed_bfloat16 is emulated on CPUs without bf16 instructions and is slow there.
"""

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

# isort: off  (tfmodels selects Keras 2 before TensorFlow loads)
import tfmodels  # noqa: F401  (Keras 2 before TensorFlow loads)

# isort: on
from tfmodels.models import bert

L, H, A, FFN, SEQ, BATCH, VOCAB = 4, 256, 4, 1024, 128, 32, 30522


def ours():
    model = bert.BertForSequenceClassification(
        bert.Config(
            vocab_size=VOCAB, hidden_size=H, num_layers=L, num_heads=A, intermediate_size=FFN
        ),
        num_labels=2,
    )
    return lambda f, training: model(f, training=training)["logits"], model


def model_garden():
    from official.nlp.modeling.networks import BertEncoderV2

    encoder = BertEncoderV2(
        vocab_size=VOCAB,
        hidden_size=H,
        num_layers=L,
        num_attention_heads=A,
        inner_dim=FFN,
        max_sequence_length=512,
        type_vocab_size=2,
    )
    head = keras.layers.Dense(2)
    dropout = keras.layers.Dropout(0.1)

    def call(f, training):
        out = encoder(
            {
                "input_word_ids": f["input_ids"],
                "input_mask": f["input_mask"],
                "input_type_ids": f["segment_ids"],
            },
            training=training,
        )
        return head(dropout(out["pooled_output"], training=training))

    call(batch()[0], False)
    return call, None


def batch():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, VOCAB, size=(BATCH, SEQ)).astype(np.int32)
    features = {
        "input_ids": tf.constant(ids),
        "input_mask": tf.ones_like(ids),
        "segment_ids": tf.zeros_like(ids),
    }
    return features, tf.constant(rng.integers(0, 2, size=BATCH).astype(np.int32))


def make_step(call, variables_fn):
    optimizer = keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01, global_clipnorm=1.0)

    @tf.function
    def step(features, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(call(features, True), tf.float32)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            )
        variables = variables_fn()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def steps_per_second(step, features, labels, steps):
    step(features, labels).numpy()
    started = time.perf_counter()
    for _ in range(steps):
        loss = step(features, labels)
    loss.numpy()
    return steps / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    features, labels = batch()
    print(
        f"BERT L{L}/H{H}/A{A}/I{FFN}, seq {SEQ}, batch {BATCH}: training steps/s "
        f"(median of {args.rounds} rounds of {args.steps} steps)"
    )
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        call_ours, model = ours()
        call_ours(features, False)
        step_ours = make_step(call_ours, lambda: model.trainable_variables)
        call_mg, _ = model_garden()
        tracked = _variables_of(call_mg)
        step_mg = make_step(call_mg, lambda: tracked)
        rates = {"tfmodels": [], "model_garden": []}
        for _ in range(args.rounds):
            rates["tfmodels"].append(steps_per_second(step_ours, features, labels, args.steps))
            rates["model_garden"].append(steps_per_second(step_mg, features, labels, args.steps))
        a, b = (statistics.median(rates[k]) for k in ("tfmodels", "model_garden"))
        print(f"{policy:15s} tfmodels {a:6.2f}  model_garden {b:6.2f}  ratio {a / b:5.2f}")


def _variables_of(call):
    """Trainable variables of the Model Garden encoder and head captured by ``call``."""
    variables = []
    for cell in call.__closure__ or ():
        value = cell.cell_contents
        if isinstance(value, (keras.layers.Layer, keras.Model)):
            variables.extend(value.trainable_variables)
    return variables


if __name__ == "__main__":
    main()
