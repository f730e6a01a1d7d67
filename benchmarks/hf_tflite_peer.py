"""The PyTorch peer of benchmarks/tflite_speed.py: batch-1 CPU inference of the same model.

Loads an HF folder (config.json + model.safetensors) with
``AutoModelForSequenceClassification`` (``--num_labels`` for a folder without a
classification head: the head is then random, which timing does not mind), sets
``torch.set_num_threads(--threads)`` and times ``--runs`` calls on the one row of
``--inputs`` (an .npy of shape [3, 1, S]: input_ids, input_mask, segment_ids, the
row tflite_speed.py times) for two variants: ``fp32`` (the model as loaded) and
``qint8`` (``torch.ao.quantization.quantize_dynamic`` of every ``nn.Linear`` to
int8 weights, activations quantized on the fly: PyTorch's counterpart of a
dynamic-range TFLite file). The calls visit the variants in ``--rounds`` turns, as
tflite_speed.py does. With ``--test_features`` ([3, N, S]) and ``--test_labels``
([N] label names, matched through the model's ``id2label``) it also scores both
variants on every test row, one row per call. Prints one JSON line; if torch or
transformers cannot be imported, a JSON line with ``skipped`` (exit 0). torch and
transformers are benchmark-only dependencies.

    python benchmarks/hf_tflite_peer.py --model runs/demo/hf_model --inputs row.npy \
        [--test_features test.npy --test_labels labels.npy] [--threads 2 --runs 40]
"""

import argparse
import io
import json
import os
import statistics
import sys
import time

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"  # the model is a local folder: nothing is downloaded
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def size_mb(model, torch):
    """Megabytes of the model's state dict as ``torch.save`` writes it."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


def as_kwargs(features, torch):
    """HF keyword arguments of a [3, B, S] array (ids, mask, segments)."""
    ids, mask, segments = (torch.from_numpy(np.ascontiguousarray(a, np.int64)) for a in features)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": segments}


def interleaved(calls, runs, rounds):
    """{name: [seconds]}: ``runs`` timed calls of each of ``calls`` ({name: function}),
    taken in ``rounds`` rounds that visit every variant in turn, so a change in the
    machine's load (other processes) falls on all variants alike. tflite_speed.py
    times our files with it too."""
    times = {name: [] for name in calls}
    per_round = [runs // rounds + (i < runs % rounds) for i in range(rounds)]
    for count in per_round:
        for name, call in calls.items():
            for _ in range(count):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an HF folder")
    parser.add_argument("--num_labels", type=int, default=None, help="for a folder with no head")
    parser.add_argument("--inputs", required=True, help=".npy [3, 1, S] of the timed row")
    parser.add_argument("--test_features", default=None, help=".npy [3, N, S]")
    parser.add_argument("--test_labels", default=None, help=".npy [N] label names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(json.dumps({"skipped": f"{type(e).__name__}: {e}"}))
        return 0

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()  # the random head's "newly initialized" note
    options = {} if args.num_labels is None else {"num_labels": args.num_labels}
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        args.model, **options
    ).eval()
    quantized = torch.ao.quantization.quantize_dynamic(
        model, {torch.nn.Linear}, dtype=torch.qint8
    ).eval()
    variants = {"fp32": model, "qint8": quantized}
    row = as_kwargs(np.load(args.inputs), torch)
    result = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "quantized_engine": torch.backends.quantized.engine,
        "seq_length": int(row["input_ids"].shape[1]),
        "runs": args.runs,
        "load_start": os.getloadavg()[0],
    }
    with torch.inference_mode():
        calls = {name: (lambda m=m: m(**row).logits) for name, m in variants.items()}
        for call in calls.values():
            for _ in range(3):
                call()
        timed = interleaved(calls, args.runs, args.rounds)
        for name, m in variants.items():
            result[f"{name}_ms"] = 1000 * statistics.median(timed[name])
            result[f"{name}_mb"] = size_mb(m, torch)
        if args.test_features and args.test_labels:
            features = np.load(args.test_features)
            labels = np.load(args.test_labels)
            id2label = {int(i): name for i, name in model.config.id2label.items()}
            rows = features.shape[1]
            result["test_rows"] = rows
            for name, m in variants.items():
                logits = np.concatenate(
                    [
                        m(**as_kwargs(features[:, i : i + 1], torch)).logits.numpy()
                        for i in range(rows)
                    ]
                )
                predicted = np.array([id2label[int(i)] for i in logits.argmax(-1)])
                result[f"{name}_accuracy"] = float(np.mean(predicted == labels))
    result["load_end"] = os.getloadavg()[0]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
