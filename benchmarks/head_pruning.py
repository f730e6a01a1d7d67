"""Accuracy and CPU latency of a fine-tuned classifier as attention heads are pruned.

    python benchmarks/head_pruning.py --init_from=runs/demo/hf_model \
        --data_dir=runs/data/fortunes --seq_length=64

Michel et al. 2019, section 4: iterative pruning, 10% of the original heads per step,
importance recomputed on the pruned model each step, scored on the first
``--importance_examples`` of dev.tsv (128 of 263 by default, to keep the run short; 0:
all), so dev accuracy is not fully held out; test accuracy is. Each row is the
physically pruned model. Latency is the median of repeated calls of a tf.function on
fixed batches (batch 1 and 32, padded to ``--seq_length``), all models measured in
interleaved rounds in this run, so load from other processes hits them alike; ``x`` is
the speedup against the unpruned model in wall-clock time, ``cpu x`` in CPU time of
this process (steadier when the machine is shared).
"""

import argparse
import functools
import sys
import time

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.compression import head_pruning
from tfmodels.tasks.classification import loss_fn, make_dataset, predict_logits
from tfmodels.tasks.glue import get_task


def accuracy(model, dataset, labels):
    return float(np.mean(predict_logits(model, dataset).argmax(-1) == labels))


def _logits(model, features):
    return model(features, training=False)["logits"]


def median_latencies(models, features, rounds):
    """Median wall and CPU seconds per call for each model, interleaved round by round."""
    calls = [tf.function(functools.partial(_logits, m)) for m in models]
    for call in calls:
        call(features).numpy()  # trace and warm up
    wall, cpu = [[] for _ in models], [[] for _ in models]
    for _ in range(rounds):
        for i, call in enumerate(calls):
            started, started_cpu = time.perf_counter(), time.process_time()
            call(features).numpy()
            wall[i].append(time.perf_counter() - started)
            cpu[i].append(time.process_time() - started_cpu)
    return [float(np.median(t)) for t in wall], [float(np.median(t)) for t in cpu]


def progress(message, started):
    print(f"[{time.perf_counter() - started:5.0f} s] {message}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init_from", default="runs/demo/hf_model")
    parser.add_argument("--data_dir", default="runs/data/fortunes")
    parser.add_argument("--seq_length", type=int, default=64)
    parser.add_argument("--max_fraction", type=float, default=0.6)
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument(
        "--importance_examples",
        type=int,
        default=128,
        help="dev examples to score importance on (0: all)",
    )
    parser.add_argument("--rounds_b1", type=int, default=30)
    parser.add_argument("--rounds_b32", type=int, default=8)
    args = parser.parse_args()

    started = time.perf_counter()
    model = tfmodels.from_pretrained(args.init_from)
    pre = tfmodels.preprocessor_from_pretrained(args.init_from, args.seq_length)
    task = get_task("tsv", args.data_dir, "text", None, "label", model.label_names)
    dev, test = task.read(args.data_dir, "dev.tsv"), task.read(args.data_dir, "test.tsv")
    dev_ds = make_dataset(dev, pre, 32).cache()
    test_ds = make_dataset(test, pre, 32).cache()
    scored = dev_ds
    if args.importance_examples:
        scored = make_dataset(dev, pre, 32).unbatch().take(args.importance_examples).batch(32)
    pruned, log = head_pruning.iterative_head_pruning(
        model, scored, loss_fn, args.max_fraction, step=args.step
    )
    prune_seconds = time.perf_counter() - started
    progress("pruned", started)
    models = [model] + [head_pruning.prune_heads(model, entry["pruned_heads"]) for entry in log]
    rows = []
    for m in models:
        rows.append((accuracy(m, dev_ds, dev.labels), accuracy(m, test_ds, test.labels)))
    progress("evaluated", started)
    batch32 = {k: v.numpy() for k, v in pre(tf.constant(test.text_a[:32])).items()}
    batch1 = {k: v[:1] for k, v in batch32.items()}
    b1, b1_cpu = median_latencies(models, batch1, args.rounds_b1)
    b32, b32_cpu = median_latencies(models, batch32, args.rounds_b32)
    progress("timed", started)

    total = model.config.num_layers * model.config.num_heads
    print(
        f"{args.init_from}: {total} heads; importance on {args.importance_examples or len(dev)}"
        f" dev examples; pruning took {prune_seconds:.0f} s"
    )
    print(
        f"{'removed':>9s} {'heads':>5s} {'dev acc':>7s} {'test acc':>8s} {'b1 ms':>6s} "
        f"{'x':>5s} {'cpu x':>5s} {'b32 ms':>6s} {'x':>5s} {'cpu x':>5s}  heads per layer"
    )
    for i, (m, (dev_acc, test_acc)) in enumerate(zip(models, rows)):
        left = head_pruning.num_heads_left(m.config)
        per_layer = [len(m.config.kept_heads(layer)) for layer in range(m.config.num_layers)]
        print(
            f"{total - left:3d} ({(total - left) / total:3.0%}) {left:5d} {dev_acc:7.4f} "
            f"{test_acc:8.4f} {b1[i] * 1e3:6.1f} {b1[0] / b1[i]:5.2f} "
            f"{b1_cpu[0] / b1_cpu[i]:5.2f} {b32[i] * 1e3:6.0f} {b32[0] / b32[i]:5.2f} "
            f"{b32_cpu[0] / b32_cpu[i]:5.2f}  {per_layer}"
        )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
