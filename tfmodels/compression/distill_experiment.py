"""Distillation runs: what run_distillation.py runs.

A run reads the experiment YAML with an extra ``distill`` section, loads the
teacher, builds the student and trains it with the shared :class:`Trainer`, one
phase after another: ``distilbert`` (one phase), ``tinybert`` general
(``intermediate``) or task (``intermediate`` then ``prediction``). Each phase
checkpoints under ``model_dir/<phase>`` and resumes there. Only the student is
written at the end (``model_dir/hf_model``, HF layout); the teacher is never
saved and TinyBERT's projections are dropped.
"""
import dataclasses
import functools
import json
import os
import time
from typing import List, Optional

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.api import load_model_config
from tfmodels.atomic import atomic_write
from tfmodels.compression import distill
from tfmodels.compression.distill_augment import (
    MLM_ARCHITECTURES,
    MaskedLMAugmenter,
    augment_examples,
)
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import ConfigError
from tfmodels.pretraining.records import pretraining_dataset
from tfmodels.tasks import classification
from tfmodels.tasks.classifier_experiment import _ensure_data
from tfmodels.tasks.glue import Examples, get_task
from tfmodels.tokenizers import read_vocabulary
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.experiment import ExperimentConfig, load_experiment
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.trainer import Trainer, write_json

STAGES = ("task", "general")


@dataclasses.dataclass
class DistillSection:
    method: str = "distilbert"            # distilbert | tinybert
    stage: str = "task"                   # task: GLUE/TSV data; general: pre-training records
    teacher: Optional[str] = None         # the teacher's checkpoint directory (or packaged name)
    student_layers: Optional[int] = None  # default: model.name's depth, else half the teacher's
    student_init: Optional[str] = None    # teacher | random; default: teacher when widths match
    init_layers: Optional[List[int]] = None  # teacher blocks (0-based) copied; default 0, 2, 4..
    temperature: Optional[float] = None   # default: 2 (DistilBERT), 1 (TinyBERT)
    alpha_ce: float = 5.0                 # DistilBERT: soft targets (times T^2)
    alpha_mlm: float = 2.0                # DistilBERT: hard labels (MLM, or the task's labels)
    alpha_cos: float = 1.0                # DistilBERT: cosine of the last hidden states
    restrict_ce_to_mask: bool = False     # DistilBERT general: soft targets at masked tokens only
    layer_map: Optional[List[int]] = None  # TinyBERT g(1..M), 1-based; default uniform m*N/M
    intermediate_steps: Optional[int] = None  # TinyBERT task: steps of the first phase
    augment: bool = False                 # TinyBERT task: masked-LM data augmentation
    augment_mlm: Optional[str] = None     # the masked-LM checkpoint that proposes words
    augment_per_example: int = 30         # N_a
    augment_candidates: int = 15          # K
    augment_prob: float = 0.4             # p_t


@dataclasses.dataclass
class DistillExperimentConfig(ExperimentConfig):
    """The experiment sections, with ``model`` describing the *student*: ``model.name``
    its widths (a tfmodels/configs/models name or YAML), ``model.init_from`` a checkpoint to
    start it from (e.g. a general-distilled TinyBERT)."""

    distill: DistillSection = dataclasses.field(default_factory=DistillSection)


def load_distill_experiment(path=None, overrides=()):
    """The YAML at ``path`` (or the defaults) with ``--set`` overrides applied."""
    return load_experiment(path, overrides, config_class=DistillExperimentConfig)


@dataclasses.dataclass
class Phase:
    name: str
    loss_fn: object
    distiller: distill.Distiller
    steps: int
    frozen: list            # student layers the phase's loss does not reach
    evaluate: bool


def _check(cfg, model_dir):
    d = cfg.distill
    if d.method not in distill.METHODS:
        raise ConfigError(f"distill.method: unknown method {d.method!r}; known: "
                          f"{', '.join(distill.METHODS)}")
    if d.stage not in STAGES:
        raise ConfigError(f"distill.stage: unknown stage {d.stage!r}; known: {', '.join(STAGES)}")
    if d.student_init not in (None, "teacher", "random"):
        raise ConfigError(f"distill.student_init: {d.student_init!r} is not teacher or random "
                          "(a student checkpoint goes in model.init_from)")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    if not d.teacher:
        raise ConfigError("distill.teacher (--teacher): give the teacher's checkpoint directory")
    if d.stage == "general" and not cfg.task.input_files:
        raise ConfigError("task.input_files: general distillation reads pre-training TFRecords "
                          "(create_pretraining_data.py)")
    if d.augment and (d.method != "tinybert" or d.stage != "task"):
        raise ConfigError("distill.augment is TinyBERT's task-distillation augmentation; "
                          "use it with distill.method=tinybert and distill.stage=task")
    if d.augment and not d.augment_mlm:
        raise ConfigError("distill.augment needs distill.augment_mlm: a checkpoint with a "
                          f"masked-LM head ({' or '.join(MLM_ARCHITECTURES)})")


def load_teacher(cfg, path, task):
    """The teacher: a classifier fine-tuned on the task, or (general stage) any BERT,
    with a masked-LM head for DistilBERT."""
    teacher = tfmodels.from_pretrained(path)
    if cfg.distill.stage == "task":
        labels = getattr(teacher, "head_args", {}).get("num_labels")
        if not hasattr(teacher, "classifier_head") or labels != task.num_labels:
            raise ConfigError(f"distill.teacher: {path} is a {teacher.architecture}"
                              f"{f' with {labels} labels' if labels else ''}; task distillation "
                              f"needs a classifier fine-tuned on {task.name} "
                              f"({task.num_labels} labels)")
        names = getattr(teacher, "label_names", None)
        unnamed = [f"LABEL_{i}" for i in range(task.num_labels)]  # HF's names for none
        if names and task.labels and list(names) not in (list(task.labels), unnamed):
            raise ConfigError(f"distill.teacher: {path} orders its labels {', '.join(names)}; "
                              f"the task's are {', '.join(task.labels)} (set task.labels)")
    elif cfg.distill.method == "distilbert" and not hasattr(teacher, "mlm_head"):
        raise ConfigError(f"distill.teacher: {path} is a {teacher.architecture}; DistilBERT's "
                          f"general distillation needs a masked-LM head "
                          f"({' or '.join(MLM_ARCHITECTURES)})")
    return teacher


def student_architecture(cfg, teacher):
    if cfg.distill.stage == "task":
        return teacher.architecture
    # DistilBERT keeps the masked LM and drops next-sentence prediction (section 3);
    # TinyBERT's general distillation trains the backbone alone (section 3.3).
    return "BertForMaskedLM" if cfg.distill.method == "distilbert" else "BertModel"


def make_student(cfg, teacher, log):
    """The student: loaded from ``model.init_from``, or built from the teacher's (or
    ``model.name``'s) widths and initialised from the teacher's layers or at random."""
    d, m = cfg.distill, cfg.model
    teacher_config = distill.encoder_of(teacher).config
    architecture = student_architecture(cfg, teacher)
    if m.init_from:
        path = resolve_checkpoint(m.init_from)
        labels = getattr(teacher, "head_args", {}).get("num_labels")
        student = tfmodels.from_pretrained(path, architecture=architecture, num_labels=labels)
        config = distill.encoder_of(student).config
        distill.check_student_depth(teacher_config.num_layers, config.num_layers,
                                    "model.init_from")
        distill.student_config(teacher_config, config.num_layers, config)  # vocabulary check
        log(f"student: {config.num_layers} layers, hidden {config.hidden_size}, from {path}")
        return student
    base = load_model_config(m.name) if m.name else None
    config = distill.student_config(teacher_config, d.student_layers, base)
    student = distill.build_student(teacher, config, architecture)
    init = d.student_init or ("teacher" if distill.same_widths(config, teacher_config)
                              else "random")
    how = "random initialisation"
    if init == "teacher":
        layers = distill.init_from_teacher(student, teacher, d.init_layers)
        how = f"the teacher's embeddings and blocks {layers}"
    log(f"student: {config.num_layers} of the teacher's {teacher_config.num_layers} layers, "
        f"hidden {config.hidden_size}, from {how}")
    return student


def check_pairing(cfg, student, teacher):
    """What the method needs of the two models; TinyBERT's layer map g(1..M)."""
    d = cfg.distill
    s, t = distill.encoder_of(student).config, distill.encoder_of(teacher).config
    if d.method == "distilbert" and s.hidden_size != t.hidden_size:
        raise ConfigError(f"distill.method=distilbert: the cosine loss compares hidden states, so "
                          f"the student keeps the teacher's width {t.hidden_size} (got "
                          f"{s.hidden_size}); use distill.method=tinybert for a narrower student")
    if d.method != "tinybert":
        return None
    if d.layer_map is None:
        layer_map = distill.uniform_layer_map(t.num_layers, s.num_layers)
    else:
        layer_map = distill.check_layer_list(d.layer_map, s.num_layers, 1, t.num_layers,
                                             "distill.layer_map")
    student_blocks = distill.encoder_of(student).transformer_layers
    teacher_blocks = distill.encoder_of(teacher).transformer_layers
    for m, g in enumerate(layer_map):
        heads = student_blocks[m].attention.num_heads, teacher_blocks[g - 1].attention.num_heads
        if heads[0] != heads[1]:
            raise ConfigError(f"distill.method=tinybert: the attention loss compares head by "
                              f"head, so student layer {m + 1} needs the {heads[1]} heads of "
                              f"teacher layer {g} (got {heads[0]})")
    return layer_map


def _write_examples(path, examples):
    with atomic_write(path) as f:
        for i in range(len(examples)):
            f.write(json.dumps({"id": examples.ids[i], "a": examples.text_a[i],
                                "b": examples.text_b[i] if examples.text_b else None,
                                "label": examples.labels[i].item()}) + "\n")


def _read_examples(path, dtype):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    pair = rows[0]["b"] is not None
    return Examples([r["id"] for r in rows], [r["a"] for r in rows],
                    [r["b"] for r in rows] if pair else None,
                    np.asarray([r["label"] for r in rows], dtype))


def augmented_training_set(cfg, train, model_dir, strategy, log):
    """TinyBERT's augmented training set, made once and kept in ``model_dir``."""
    d = cfg.distill
    path = os.path.join(model_dir, "augmented_train.jsonl")
    if os.path.isfile(path):
        log(f"reusing the augmented training set {path}")
        return _read_examples(path, train.labels.dtype)
    mlm_path = resolve_checkpoint(d.augment_mlm, "distill.augment_mlm")
    with strategy.scope():
        mlm = tfmodels.from_pretrained(mlm_path)
    tokenizer = tfmodels.preprocessor_from_pretrained(mlm_path, cfg.model.seq_length).tokenizer
    augmenter = MaskedLMAugmenter(mlm, tokenizer, cfg.model.seq_length, d.augment_candidates,
                                  d.augment_prob, d.augment_per_example, seed=cfg.trainer.seed)
    started = time.time()
    examples = augment_examples(train, augmenter, log)
    _write_examples(path, examples)
    log(f"augmented {len(train)} examples to {len(examples)} in {time.time() - started:.0f}s "
        f"with {mlm_path}")
    return examples


def _masking(cfg, vocab_dir, vocab_size):
    """Dynamic masking settings for pre-training records (None: the records' own masks)."""
    if not cfg.data.dynamic_masking:
        return None
    vocab = read_vocabulary(cfg.model.vocab_file or os.path.join(vocab_dir, "vocab.txt"))
    if len(vocab) > vocab_size:
        raise ConfigError(f"the vocabulary has {len(vocab)} tokens but the teacher's vocab_size "
                          f"is {vocab_size}")
    return {"vocab_size": len(vocab), "mask_id": vocab.index("[MASK]"),
            "special_ids": [vocab.index(t) for t in ("[CLS]", "[SEP]", "[PAD]")],
            "mask_rate": cfg.data.mask_rate}


def _phases(cfg, teacher, student, layer_map, steps):
    d = cfg.distill
    encoder = distill.encoder_of(student)
    temperature = d.temperature or (2.0 if d.method == "distilbert" else 1.0)
    if d.method == "distilbert":
        return [Phase("distilbert", distill.distilbert_loss(
            teacher, d.alpha_ce, d.alpha_mlm, d.alpha_cos, temperature, d.restrict_ce_to_mask),
            distill.Distiller(student), steps, [], d.stage == "task")]
    # The intermediate losses reach neither the pooler nor the heads: they stay as they are.
    heads = [encoder.pooler_layer] + [getattr(student, h, None) for h in
                                      ("classifier_head", "sentence_head")]
    width = distill.encoder_of(teacher).config.hidden_size
    intermediate = Phase("intermediate", distill.tinybert_intermediate_loss(teacher, layer_map),
                         distill.Distiller(student, teacher_hidden_size=width),
                         d.intermediate_steps or steps, heads, False)
    if d.stage == "general":
        return [intermediate]
    return [intermediate, Phase("prediction", distill.tinybert_prediction_loss(
        teacher, temperature), distill.Distiller(student), steps, [], True)]


def _best_student(phase, phase_dir, evaluate):
    """Leaves the student at the phase's best checkpoint; returns (checkpoint, its metrics)."""
    latest = tf.train.latest_checkpoint(os.path.join(phase_dir, "best"))
    if not latest:
        return None, evaluate()
    with open(os.path.join(phase_dir, "best", "best.json")) as f:
        best = json.load(f)
    if best["step"] == phase.steps:  # the student holds these weights already
        return latest, best["metrics"]
    tf.train.Checkpoint(model=phase.distiller).restore(latest).expect_partial()
    return latest, evaluate()


def run(cfg, model_dir, strategy_name="default", tpu=None, precision="float32",
        jit_compile=False, log=None):
    log = log or functools.partial(print, flush=True)
    _check(cfg, model_dir)
    d, t = cfg.distill, cfg.task
    task = train = None
    if d.stage == "task":
        _ensure_data(cfg)
        task = get_task(t.name, t.data_dir, t.text_a_column, t.text_b_column, t.label_column,
                        t.labels)
        if not t.data_dir or not os.path.isdir(t.data_dir):
            raise ConfigError(f"--data_dir: folder not found: {t.data_dir}")
        train = task.read(t.data_dir, task.train_file)
    teacher_path = resolve_checkpoint(d.teacher, "--teacher")
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    os.makedirs(model_dir, exist_ok=True)
    with strategy.scope():
        teacher = load_teacher(cfg, teacher_path, task)
        student = make_student(cfg, teacher, log)
    layer_map = check_pairing(cfg, student, teacher)
    teacher_config = distill.encoder_of(teacher).config
    if cfg.model.seq_length > teacher_config.max_position_embeddings:
        raise ConfigError(f"model.seq_length {cfg.model.seq_length} exceeds the teacher's "
                          f"max_position_embeddings {teacher_config.max_position_embeddings}")
    vocab_dir = os.path.dirname(cfg.model.vocab_file) if cfg.model.vocab_file else teacher_path
    batch = cfg.data.train_batch_size
    if d.stage == "task":
        preprocessor = tfmodels.preprocessor_from_pretrained(vocab_dir, cfg.model.seq_length)
        if preprocessor.vocab_size > teacher_config.vocab_size:
            raise ConfigError(f"the vocabulary in {vocab_dir} has {preprocessor.vocab_size} "
                              f"tokens but the teacher's vocab_size is "
                              f"{teacher_config.vocab_size}")
        if d.augment:
            train = augmented_training_set(cfg, train, model_dir, strategy, log)
        steps = cfg.trainer.train_steps or max(1, int(
            cfg.trainer.epochs * len(train) / (batch * cfg.trainer.accumulation_steps)))
        dataset = classification.make_dataset(train, preprocessor, batch, training=True,
                                              seed=cfg.trainer.seed,
                                              shuffle_buffer=cfg.data.shuffle_buffer)
        student.label_names = list(getattr(teacher, "label_names", None) or task.labels or [])
    else:
        steps = cfg.trainer.train_steps
        if not steps:
            raise ConfigError("trainer.train_steps is required for general distillation")
        dataset = pretraining_dataset(
            t.input_files, batch, cfg.model.seq_length, cfg.data.max_predictions_per_seq,
            _masking(cfg, vocab_dir, teacher_config.vocab_size), seed=cfg.trainer.seed,
            shuffle_buffer=cfg.data.shuffle_buffer)

    dev_sets = None

    def evaluate(model):
        nonlocal dev_sets
        if dev_sets is None:  # tokenized once, at the first evaluation
            dev_sets = classification.DevSets(task, preprocessor, t.data_dir,
                                              cfg.data.eval_batch_size)
        return dev_sets.evaluate(model)

    started = time.time()
    report = {"method": d.method, "stage": d.stage, "teacher": teacher_path,
              "teacher_layers": teacher_config.num_layers,
              "student_layers": distill.encoder_of(student).config.num_layers,
              "teacher_parameters": int(teacher.count_params()),
              "student_parameters": int(student.count_params()),
              "layer_map": layer_map, "phases": {}}
    with strategy.scope():  # TinyBERT's projections are variables too
        phases = _phases(cfg, teacher, student, layer_map, steps)
    for phase in phases:
        phase_dir = os.path.join(model_dir, phase.name)
        with strategy.scope():
            optimizer = create_optimizer(cfg.optimizer, cfg.schedule, phase.steps)
        log(f"distilling {d.method} ({d.stage}, phase {phase.name}) for {phase.steps} steps, "
            f"batch {batch}, seq_length {cfg.model.seq_length}, "
            f"{strategy.num_replicas_in_sync} replica(s), {precision}")
        with distill.frozen(phase.frozen):
            trainer = Trainer.from_experiment(
                cfg, strategy, phase_dir, phase.distiller, optimizer, phase.loss_fn,
                phase.steps, jit_compile=jit_compile, loss_scale=loss_scale, log=log,
                evaluate=(lambda: evaluate(student)) if phase.evaluate else None,
                main_metric=f"{task.dev_files[0][0]}/score" if task else None)
            report["phases"][phase.name] = trainer.train(dataset)
    if not trainer.chief:  # other workers of a multi-worker run leave the outputs to the chief
        return report
    if task is not None:
        report["checkpoint"], report["eval"] = _best_student(
            phases[-1], os.path.join(model_dir, phases[-1].name), lambda: evaluate(student))
        if cfg.report.baselines:  # the teacher is the baseline a student is measured against
            report["teacher_eval"] = evaluate(teacher)
        write_json(os.path.join(model_dir, "eval_results.json"), report["eval"])
    student.source_path = vocab_dir  # save_pretrained copies the tokenizer files from there
    report["student"] = tfmodels.save_pretrained(student, os.path.join(model_dir, "hf_model"))
    report["wall_seconds"] = time.time() - started
    write_json(os.path.join(model_dir, "metrics.json"), report)
    _print_report(report, log)
    return report


def _print_report(report, log):
    log("\n== distillation results ==")
    log(f"teacher {report['teacher_layers']} layers ({report['teacher_parameters']:,} "
        f"parameters) -> student {report['student_layers']} layers "
        f"({report['student_parameters']:,}), saved in {report['student']}")
    for key, value in report.get("eval", {}).items():
        if isinstance(value, float):
            teacher = report.get("teacher_eval", {}).get(key)
            log(f"{key:24s} student {value:.4f}" +
                (f"  teacher {teacher:.4f}" if teacher is not None else ""))
    log(f"wall time {report['wall_seconds']:.0f}s")
