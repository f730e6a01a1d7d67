"""Tokens per second of greedy decoding with and without the key/value cache.

    python benchmarks/decode_speed.py                    # GPT-2 small shape (124M)
    python benchmarks/decode_speed.py --layers=2 --new_tokens=16   # a quick look

A randomly initialized GPT-2 of the ``gpt2`` configuration (weights do not change
the arithmetic) decodes ``--new_tokens`` tokens after a ``--prompt`` token prompt,
batch ``--batch``:

- ``uncached``: every step runs the whole sequence so far (the recomputation a
  model without a cache needs; :func:`generate` with ``use_cache=False``);
- ``cached``: every step runs one token against the stored keys/values (eager);
- ``cached, tf.function``: the same loop traced once and run as a graph.

The uncached and cached eager runs use the same Python-level loop, so their ratio
is the cache's own effect; rows are measured ``--rounds`` times, interleaved, and
the median is reported. Both must produce the same tokens (checked).
"""
import argparse
import time

import numpy as np
import tensorflow as tf

import tfmodels  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfmodels.api import load_model_config
from tfmodels.generation import generate
from tfmodels.models.gpt2 import GPT2LMHeadModel


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
    features = {"input_ids": tf.constant(ids, tf.int32),
                "input_mask": tf.ones([args.batch, args.prompt], tf.int32)}
    compiled = tf.function(lambda f: generate(model, f, args.new_tokens))
    runs = {"uncached": lambda: generate(model, features, args.new_tokens, use_cache=False),
            "cached": lambda: generate(model, features, args.new_tokens),
            "cached, tf.function": lambda: compiled(features)}
    outputs = {name: run().numpy() for name, run in runs.items()}  # warm-up and tracing
    for name, tokens in outputs.items():
        if not np.array_equal(tokens, outputs["uncached"]):
            raise SystemExit(f"{name} decoding gave other tokens than the uncached run")
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    tokens = args.batch * args.new_tokens
    base = np.median(seconds["uncached"])
    print(f"GPT-2 shape: {config.num_layers} layers, width {config.hidden_size}, vocab "
          f"{config.vocab_size}; prompt {args.prompt}, {args.new_tokens} new tokens, batch "
          f"{args.batch}; median of {args.rounds} rounds")
    print(f"{'decoding':24s} {'seconds':>8s} {'tokens/s':>9s} {'vs uncached':>12s}")
    for name, values in seconds.items():
        median = np.median(values)
        print(f"{name:24s} {median:8.2f} {tokens / median:9.1f} {base / median:11.2f}x")


if __name__ == "__main__":
    main()
