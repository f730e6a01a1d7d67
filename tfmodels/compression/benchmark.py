"""The compression study of the seeds, redone on a fine-tuned classifier: what
run_benchmark.py runs.

Every method starts from the same fine-tuned teacher, gets the same short recovery
fine-tune (where it trains at all) and is measured the same way: parameters
(and non-zero ones), the TFLite file it ships as (plain and gzip size), batch-1
latency of the Keras model and of the TFLite file at the latency sequence length,
and test accuracy of the TFLite file. Each finished row is saved under
``rows/`` (with its Keras model under ``models/``) so an interrupted study resumes
where it stopped. Latencies measured row by row drift with the machine's load, so
:func:`retime` measures every row's files again at the end, interleaved, and the
table's speedups come from that one pass.
"""

import dataclasses
import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.atomic import atomic_write
from tfmodels.compression import measure
from tfmodels.compression.clustering import cluster_model, strip_clustering
from tfmodels.compression.fine_tune import classification_dataset, fine_tune
from tfmodels.compression.head_pruning import iterative_head_pruning
from tfmodels.compression.layer_sharing import share_layers
from tfmodels.compression.pruning import prune_model, strip_pruning, weight_sparsity
from tfmodels.compression.qat import quantize_model
from tfmodels.compression.sizes import sizes
from tfmodels.errors import ConfigError
from tfmodels.export import tflite_profile
from tfmodels.tasks import classification
from tfmodels.tasks.glue import get_task
from tfmodels.training.driver import run_experiment
from tfmodels.training.experiment import load_experiment
from tfmodels.training.trainer import write_json

EXPERIMENTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "configs",
    "experiments",
)


@dataclasses.dataclass
class Study:
    """What every row needs: the teacher, data, and the measurement settings."""

    teacher_path: str
    data_dir: str
    output_dir: str
    seq_length: int = 128  # scoring and latency
    train_seq_length: int = 64  # recovery fine-tunes
    steps: int = 150  # recovery fine-tune steps per method
    batch_size: int = 32
    learning_rate: float = 2e-5
    latency_repeats: int = 20
    calibration_rows: int = 400  # int8 PTQ: the first train.tsv texts
    seed: int = 0  # set before each row

    def __post_init__(self):
        self.teacher = tfmodels.from_pretrained(self.teacher_path)
        if not hasattr(self.teacher, "classifier_head"):
            raise ConfigError(
                f"--teacher={self.teacher_path}: not a sequence classifier "
                f"({self.teacher.architecture})"
            )
        self.label_names = self.teacher.label_names
        self.task = get_task("tsv", self.data_dir, "text", None, "label", self.label_names)
        self.train = self.task.read(self.data_dir, "train.tsv")
        self.test = self.task.read(self.data_dir, "test.tsv")
        self.preprocessor = tfmodels.preprocessor_from_pretrained(
            self.teacher_path, self.seq_length
        )
        self.train_preprocessor = tfmodels.preprocessor_from_pretrained(
            self.teacher_path, self.train_seq_length
        )
        self.test_features = self.features(self.test.text_a)
        self.calibration = self.features(self.train.text_a[: self.calibration_rows])
        self.latency_features = {k: v[:1] for k, v in self.test_features.items()}
        os.makedirs(os.path.join(self.output_dir, "rows"), exist_ok=True)

    def features(self, texts):
        return {k: v.numpy() for k, v in self.preprocessor(tf.constant(list(texts))).items()}

    def fresh_teacher(self):
        """A copy of the teacher to compress (methods change weights in place)."""
        return tfmodels.from_pretrained(self.teacher_path)

    def path(self, name):
        return os.path.join(self.output_dir, name)

    def measure(self, method, tflite_path, model=None, note=""):
        """One table row for a TFLite file (and the Keras model it came from, if any)."""
        logits = measure.tflite_logits(tflite_path, self.test_features)
        size = sizes(tflite_path)
        row = {
            "method": method,
            "file": os.path.basename(tflite_path),
            "file_mb": size["bytes"] / 1e6,
            "gzip_mb": size["gzip_bytes"] / 1e6,
            "tflite_ms": measure.tflite_latency_ms(
                tflite_path, self.latency_features, self.latency_repeats
            ),
            "score": float(np.mean(logits.argmax(-1) == self.test.labels)),
            "note": note,
        }
        if model is not None:
            row["params"], row["nonzero_params"] = measure.count_nonzero_params(model)
            row["tf_ms"] = measure.keras_latency_ms(
                model, self.latency_features, self.latency_repeats
            )
            row["model_dir"] = os.path.basename(
                tfmodels.save_pretrained(model, self.path(os.path.join("models", method)))
            )
        return row

    def recover(self, model, callbacks=()):
        """The recovery fine-tune every training method gets: ``steps`` batches of train.tsv."""
        dataset = classification_dataset(self.train, self.train_preprocessor, self.batch_size)
        return fine_tune(
            model, dataset, self.steps, self.learning_rate, callbacks=callbacks, verbose=0
        )

    def tflite(self, model, name, quantize=None, **options):
        return tfmodels.export.tflite(
            model,
            self.path(f"{name}.tflite"),
            seq_length=self.seq_length,
            quantize=quantize,
            representative_data=self.calibration,
            **options,
        )


def teacher(study):
    model = study.teacher
    return study.measure(
        "teacher", study.tflite(model, "teacher"), model, "fine-tuned teacher, float32"
    )


def _ptq(name, quantize, note, **options):
    def row(study):
        path = study.tflite(study.teacher, name, quantize, **options)
        calibrated = f", calibrated on {study.calibration_rows} training texts"
        return study.measure(name, path, note=note + (calibrated if quantize == "int8" else ""))

    row.__doc__ = note
    return row


def qat_int8(study):
    """8-bit quantization-aware training, then an int8 TFLite file."""
    model = quantize_model(study.fresh_teacher())
    study.recover(model)
    # The Keras QAT model runs fake-quant ops: its latency says nothing; the TFLite one does.
    path = study.tflite(model, "qat_int8", "qat")
    return study.measure("qat_int8", path, note="QAT fine-tune, int8 TFLite")


def _pruned(sparsity):
    def row(study):
        # The sparsity rises over the first 70% of the steps; the rest recovers at target.
        end = max(1, int(0.7 * study.steps))
        pruned = prune_model(
            study.fresh_teacher(), sparsity, begin_step=0, end_step=end, frequency=max(1, end // 10)
        )
        study.recover(pruned)
        model = strip_pruning(pruned)
        name = f"pruned_{round(100 * sparsity)}"
        reached = weight_sparsity(model)
        row = study.measure(
            name,
            study.tflite(model, name),
            model,
            f"magnitude pruning of every Dense kernel to {sparsity:.0%}, "
            "float TFLite (zeros compress; no sparse kernels run)",
        )
        row["kernel_sparsity"] = sum(reached.values()) / len(reached)
        return row

    row.__doc__ = f"magnitude pruning to {sparsity:.0%} sparsity, fine-tuned"
    return row


def _clustered(clusters):
    def row(study):
        clustered = cluster_model(study.fresh_teacher(), clusters)
        study.recover(clustered)
        model = strip_clustering(clustered)
        name = f"clustered_{clusters}"
        return study.measure(
            name,
            study.tflite(model, name),
            model,
            f"k-means weight clustering, {clusters} centroids per kernel, float TFLite",
        )

    row.__doc__ = f"weight clustering with {clusters} clusters, fine-tuned"
    return row


def heads_pruned_60(study):
    """Michel et al. head pruning: 60% of the heads removed in steps of 20%, fine-tuned."""
    dev = study.task.read(study.data_dir, "dev.tsv")
    dataset = classification.make_dataset(dev, study.train_preprocessor, study.batch_size)
    model, log = iterative_head_pruning(
        study.fresh_teacher(), dataset, classification.loss_fn, 0.6, step=0.2
    )
    study.recover(model)
    left = log[-1]["heads_left"] if log else None
    return study.measure(
        "heads_pruned_60",
        study.tflite(model, "heads_pruned_60"),
        model,
        f"{left} heads left, physically smaller attention, float TFLite",
    )


def albert_shared(study):
    """ALBERT-style cross-layer sharing: one block (the mean of the teacher's), fine-tuned."""
    model = share_layers(study.fresh_teacher())
    study.recover(model)
    return study.measure(
        "albert_shared",
        study.tflite(model, "albert_shared"),
        model,
        f"one block shared by all {model.config.num_layers} layers, "
        "float TFLite (smaller file, same compute)",
    )


def _student(method, note):
    def row(study):
        """The distillation experiment of configs/experiments, pointed at this study."""
        steps = study.steps
        overrides = [
            f"task.teacher={study.teacher_path}",
            f"task.data_dir={study.data_dir}",
            f"task.labels={json.dumps(study.label_names)}",
            f"trainer.train_steps={steps}",
            f"trainer.checkpoint_every={steps}",
            f"model.seq_length={study.train_seq_length}",
            "task.compare_teacher=false",
            f"task.student_layers={max(1, study.teacher.config.num_layers // 2)}",
        ]
        if method == "tinybert":
            overrides.append(f"task.intermediate_steps={max(1, steps // 2)}")
        cfg = load_experiment(
            os.path.join(EXPERIMENTS, f"distill_minilm_fortunes_{method}.yaml"),
            overrides,
            task_type="distillation",
        )
        report = run_experiment(cfg, study.path(f"{method}_run"), log=lambda *_: None)
        model = tfmodels.from_pretrained(report["student"])
        name = f"{method}_student"
        return study.measure(
            name,
            study.tflite(model, name),
            model,
            f"{report['student_layers']}-layer student, {method} distillation, float TFLite",
        )

    row.__doc__ = note
    return row


ROWS = {
    "teacher": teacher,
    "ptq_dynamic": _ptq(
        "ptq_dynamic", "dynamic", "dynamic-range PTQ: int8 weights, float activations"
    ),
    "ptq_float16": _ptq("ptq_float16", "float16", "float16 weights"),
    "ptq_int8": _ptq(
        "ptq_int8", "int8", "int8 PTQ, LayerNorm statistics and softmax float (the default)"
    ),
    "ptq_int8_all_integer": _ptq(
        "ptq_int8_all_integer",
        "int8",
        "int8 PTQ with every op integer (float_ops=(), for NPUs)",
        float_ops=(),
    ),
    "qat_int8": qat_int8,
    "pruned_50": _pruned(0.5),
    "pruned_80": _pruned(0.8),
    "clustered_16": _clustered(16),
    "clustered_32": _clustered(32),
    "clustered_64": _clustered(64),
    "heads_pruned_60": heads_pruned_60,
    "albert_shared": albert_shared,
    "distilbert_student": _student("distilbert", "DistilBERT-style student (every other layer)"),
    "tinybert_student": _student("tinybert", "TinyBERT student (layer-wise, then logits)"),
}


def run_study(study, rows, log=print):
    """Measures each row (reusing saved ones) and writes the report; returns the rows."""
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ConfigError(f"--rows: unknown {', '.join(unknown)}; known: {', '.join(ROWS)}")
    if "teacher" not in rows:
        rows = ["teacher", *rows]
    results = []
    for name in rows:
        saved = study.path(os.path.join("rows", f"{name}.json"))
        if os.path.isfile(saved):
            with open(saved, encoding="utf-8") as f:
                results.append(json.load(f))
            log(f"[{name}] reusing {saved}")
            continue
        log(f"[{name}] {ROWS[name].__doc__.splitlines()[0] if ROWS[name].__doc__ else ''}")
        started = time.time()
        # Each row starts from the same seed (dropout, new heads, shuffles): a row
        # measured alone gives the figure it gives in the whole study.
        tf.keras.utils.set_random_seed(study.seed)
        row = ROWS[name](study)
        row["minutes"] = (time.time() - started) / 60
        write_json(saved, row)
        results.append(row)
        log(
            f"[{name}] test acc {row['score']:.4f}, gzip {row['gzip_mb']:.1f} MB, "
            f"TFLite {row['tflite_ms']:.1f} ms ({row['minutes']:.1f} min)"
        )
    results = retime(study, results, log)
    from tfmodels.compression.report import write_report

    paths = write_report(
        results,
        study.output_dir,
        title=f"Compression of {study.teacher_path} (seq {study.seq_length})",
    )
    return results, (*paths, write_profiles(study, results, log))


PROFILED = ("teacher", "ptq_dynamic", "ptq_int8", "ptq_int8_all_integer", "qat_int8")


def write_profiles(study, rows, log=print):
    """profiles.md: LiteRT's per-operator profile of the teacher's and the quantized
    rows' TFLite files on the latency input, the table's "why" beside its "how fast"."""
    sections = [f"## Operator profiles, {study.teacher_path} (seq {study.seq_length}, batch 1)"]
    for row in rows:
        path = study.path(row["file"])
        if row["method"] not in PROFILED or not os.path.isfile(path):
            continue
        log(f"profiling {row['file']}")
        table = tflite_profile.profile(path, study.latency_features, runs=study.latency_repeats)
        sections.append(tflite_profile.format_table(table, f"{row['method']} ({row['file']})"))
    out = study.path("profiles.md")
    with atomic_write(out) as f:
        f.write("\n\n".join(sections) + "\n")
    return out


def retime(study, rows, log=print):
    """Measures every row's latency again in one interleaved pass: each repeat times
    every TFLite file (and Keras model) once, so load changes hit all rows alike."""
    calls = {}
    for row in rows:
        tflite_path = study.path(row["file"])
        if os.path.isfile(tflite_path):
            calls[(row["method"], "tflite_ms")] = measure.tflite_call(
                tflite_path, study.latency_features
            )
        model_dir = (
            study.teacher_path
            if row["method"] == "teacher"
            else row.get("model_dir") and study.path(os.path.join("models", row["model_dir"]))
        )
        if model_dir and os.path.isdir(model_dir):
            calls[(row["method"], "tf_ms")] = measure.keras_call(
                tfmodels.from_pretrained(model_dir), study.latency_features
            )
    log(f"timing {len(calls)} files and models together, {study.latency_repeats} rounds")
    times = {key: [] for key in calls}
    for call in calls.values():  # warm-up: tracing, allocation
        call()
    for _ in range(study.latency_repeats):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - started)
    out = []
    for row in rows:
        row = {**row, "tflite_ms": None, "tf_ms": None}
        for key in ("tflite_ms", "tf_ms"):
            if times.get((row["method"], key)):
                row[key] = 1000 * statistics.median(times[(row["method"], key)])
        out.append(row)
    return out
