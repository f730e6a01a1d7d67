"""Tokens per second of greedy decoding with and without the key/value cache.

    python benchmarks/decode_speed.py                    # GPT-2 small shape (124M)
    python benchmarks/decode_speed.py --layers=2 --new_tokens=16   # a quick look

A randomly initialized GPT-2 of the ``gpt2`` configuration (weights do not change
the arithmetic) decodes ``--new_tokens`` tokens after a ``--prompt`` token prompt,
batch ``--batch``:

- ``uncached``: every step runs the whole sequence so far (the recomputation a
  model without a cache needs; :func:`generate` with ``use_cache=False``), eager;
- ``cached``: every step runs one token against the stored keys/values, eager;
- ``uncached, tf.function``: a graph of fixed shapes can only recompute the whole
  ``prompt + new_tokens`` buffer at every step (causal attention keeps the unwritten
  tail from touching earlier positions);
- ``cached, tf.function``: :func:`generate` traced once, the way to use it.

The eager rows share one Python-level loop and the graph rows one ``tf.while_loop``,
so each pair's ratio is the cache's own effect. Rows are measured ``--rounds`` times,
interleaved, and the median is reported. ``same tokens`` is the share of tokens equal
to the eager uncached run's: random weights give near-uniform logits, so the order of
float sums can flip an argmax now and then (tests/generation check exact equality on a
fixture whose logits are well apart).
"""

import argparse
import time

import numpy as np
import tensorflow as tf

import tfmodels  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfmodels.api import load_model_config
from tfmodels.generation import generate
from tfmodels.models.gpt2 import GPT2LMHeadModel


def full_recomputation(model, features, new_tokens):
    """Greedy decoding that runs the whole fixed-size buffer at every step (a Python
    loop, unrolled when traced)."""
    ids, cache = model.start_generation(features, new_tokens)
    start = ids.shape[1]
    buffer = tf.concat([ids, tf.zeros([tf.shape(ids)[0], new_tokens], ids.dtype)], axis=1)
    slots = tf.range(start + new_tokens)
    for step in range(new_tokens):
        logits, _ = model.decode_step(buffer, cache, 0, at=start + step - 1)
        token = tf.argmax(logits, axis=-1, output_type=buffer.dtype)
        buffer = tf.where(tf.equal(slots, start + step), token[:, tf.newaxis], buffer)
    return buffer[:, start:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=None, help="default: gpt2's 12")
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new_tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    config = load_model_config("gpt2")
    if args.layers:
        config.num_layers = args.layers
    tf.keras.utils.set_random_seed(0)
    model = GPT2LMHeadModel(config)
    ids = np.random.default_rng(0).integers(0, config.vocab_size, [args.batch, args.prompt])
    features = {
        "input_ids": tf.constant(ids, tf.int32),
        "input_mask": tf.ones([args.batch, args.prompt], tf.int32),
    }
    compiled = tf.function(lambda f: generate(model, f, args.new_tokens))
    recompute = tf.function(lambda f: full_recomputation(model, f, args.new_tokens))
    runs = {
        "uncached": lambda: generate(model, features, args.new_tokens, use_cache=False),
        "cached": lambda: generate(model, features, args.new_tokens),
        "uncached, tf.function": lambda: recompute(features),
        "cached, tf.function": lambda: compiled(features),
    }
    outputs = {name: run().numpy() for name, run in runs.items()}  # warm-up and tracing
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    tokens = args.batch * args.new_tokens
    print(
        f"GPT-2 shape: {config.num_layers} layers, width {config.hidden_size}, vocab "
        f"{config.vocab_size}; prompt {args.prompt}, {args.new_tokens} new tokens, batch "
        f"{args.batch}; median of {args.rounds} rounds"
    )
    print(
        f"{'decoding':24s} {'seconds':>8s} {'tokens/s':>9s} {'cache speed-up':>15s} "
        f"{'same tokens':>12s}"
    )
    for name, values in seconds.items():
        median = np.median(values)
        baseline = np.median(
            seconds[name.replace("cached", "uncached", 1)] if name.startswith("cached") else values
        )
        same = np.mean(outputs[name] == outputs["uncached"])
        print(
            f"{name:24s} {median:8.2f} {tokens / median:9.1f} {baseline / median:14.2f}x "
            f"{same:12.2f}"
        )


if __name__ == "__main__":
    main()
