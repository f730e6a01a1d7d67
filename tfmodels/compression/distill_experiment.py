"""Distillation runs: what run_distillation.py runs.

A run reads the experiment YAML (``task.type: distillation``), loads the teacher,
builds the student and trains it with the shared :class:`Trainer`, one phase after
another: ``distilbert`` (one phase), ``tinybert`` general
(``intermediate``) or task (``intermediate`` then ``prediction``). Each phase
checkpoints under ``model_dir/<phase>`` and resumes there. Only the student is
written at the end (``model_dir/hf_model``, HF layout); the teacher is never
saved and TinyBERT's projections are dropped.
"""

import dataclasses
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
from tfmodels.pretraining.records import check_records, pretraining_dataset
from tfmodels.strict_config import bounded, check_choice
from tfmodels.tasks import classification
from tfmodels.tasks.classifier_experiment import TextTaskConfig, read_splits, read_text_task
from tfmodels.tasks.fine_tuning import check_fits, check_seq_length
from tfmodels.tasks.glue import Examples
from tfmodels.tokenizers import read_vocabulary
from tfmodels.training.task import Task

STAGES = ("task", "general")


@dataclasses.dataclass
class DistillationConfig(TextTaskConfig):
    """The teacher, the method and its weights; ``model`` describes the *student*:
    ``model.name`` its widths (a tfmodels/configs/models name or YAML),
    ``model.init_from`` a checkpoint to start it from (e.g. a general-distilled
    TinyBERT). The task stage reads the GLUE/TSV fields, the general stage
    ``input_files`` (pre-training records)."""

    type: str = "distillation"
    method: str = "distilbert"  # distilbert | tinybert
    stage: str = "task"  # task: GLUE/TSV data; general: pre-training records
    teacher: Optional[str] = None  # the teacher's checkpoint directory (or packaged name)
    # Default: model.name's depth, else half the teacher's.
    student_layers: Optional[int] = bounded(None, "[1, inf)")
    student_init: Optional[str] = None  # teacher | random; default: teacher when widths match
    # Teacher blocks (0-based) copied; default 0, 2, 4..
    init_layers: Optional[List[int]] = bounded(None, "[0, inf)")
    # Default: 2 (DistilBERT), 1 (TinyBERT).
    temperature: Optional[float] = bounded(None, "(0, inf)")
    alpha_ce: float = bounded(5.0, "[0, inf)")  # DistilBERT: soft targets (times T^2)
    alpha_mlm: float = bounded(2.0, "[0, inf)")  # DistilBERT: hard labels (MLM, or the task's)
    alpha_cos: float = bounded(1.0, "[0, inf)")  # DistilBERT: cosine of the last hidden states
    restrict_ce_to_mask: bool = False  # DistilBERT general: soft targets at masked tokens only
    # TinyBERT g(1..M), 1-based; default uniform m*N/M.
    layer_map: Optional[List[int]] = bounded(None, "[1, inf)")
    # TinyBERT task: steps of the first phase.
    intermediate_steps: Optional[int] = bounded(None, "[1, inf)")
    augment: bool = False  # TinyBERT task: masked-LM data augmentation
    augment_mlm: Optional[str] = None  # the masked-LM checkpoint that proposes words
    augment_per_example: int = bounded(30, "[1, inf)")  # N_a
    augment_candidates: int = bounded(15, "[1, inf)")  # K
    augment_prob: float = bounded(0.4, "[0, 1]")  # p_t
    compare_teacher: bool = False  # evaluate the teacher too: the student's reference
    input_files: Optional[str] = None  # general stage: TFRecord glob
    # General stage: masked positions per sequence.
    max_predictions_per_seq: int = bounded(20, "[1, inf)")
    mask_rate: float = bounded(0.15, "(0, 1)")
    dynamic_masking: bool = True


@dataclasses.dataclass
class Phase:
    name: str
    loss_fn: object
    distiller: distill.Distiller
    steps: int
    frozen: list  # student layers the phase's loss does not reach
    evaluate: bool


def _check(cfg):
    d = cfg.task
    check_choice("task.method", d.method, distill.METHODS, "method")
    check_choice("task.stage", d.stage, STAGES, "stage")
    if d.student_init not in (None, "teacher", "random"):
        raise ConfigError(
            f"task.student_init: {d.student_init!r} is not teacher or random "
            "(a student checkpoint goes in model.init_from)"
        )
    if not d.teacher:
        raise ConfigError("task.teacher (--teacher): give the teacher's checkpoint directory")
    if d.stage == "general" and not d.input_files:
        raise ConfigError(
            "task.input_files: general distillation reads pre-training TFRecords "
            "(create_pretraining_data.py)"
        )
    if d.stage == "general" and not cfg.trainer.train_steps:
        raise ConfigError("trainer.train_steps is required for general distillation")
    if d.augment and (d.method != "tinybert" or d.stage != "task"):
        raise ConfigError(
            "task.augment is TinyBERT's task-distillation augmentation; "
            "use it with task.method=tinybert and task.stage=task"
        )
    if d.augment and not d.augment_mlm:
        raise ConfigError(
            "task.augment needs task.augment_mlm: a checkpoint with a "
            f"masked-LM head ({' or '.join(MLM_ARCHITECTURES)})"
        )


def load_teacher(cfg, path, task):
    """The teacher: a classifier fine-tuned on the task, or (general stage) any BERT,
    with a masked-LM head for DistilBERT."""
    teacher = tfmodels.from_pretrained(path)
    if cfg.task.stage == "task":
        labels = getattr(teacher, "head_args", {}).get("num_labels")
        if not hasattr(teacher, "classifier_head") or labels != task.num_labels:
            raise ConfigError(
                f"task.teacher: {path} is a {teacher.architecture}"
                f"{f' with {labels} labels' if labels else ''}; task distillation "
                f"needs a classifier fine-tuned on {task.name} "
                f"({task.num_labels} labels)"
            )
        names = getattr(teacher, "label_names", None)
        unnamed = [f"LABEL_{i}" for i in range(task.num_labels)]  # HF's names for none
        if names and task.labels and list(names) not in (list(task.labels), unnamed):
            raise ConfigError(
                f"task.teacher: {path} orders its labels {', '.join(names)}; "
                f"the task's are {', '.join(task.labels)} (set task.labels)"
            )
    elif cfg.task.method == "distilbert" and not hasattr(teacher, "mlm_head"):
        raise ConfigError(
            f"task.teacher: {path} is a {teacher.architecture}; DistilBERT's "
            f"general distillation needs a masked-LM head "
            f"({' or '.join(MLM_ARCHITECTURES)})"
        )
    return teacher


def student_architecture(cfg, teacher):
    if cfg.task.stage == "task":
        return teacher.architecture
    # DistilBERT keeps the masked LM and drops next-sentence prediction (section 3);
    # TinyBERT's general distillation trains the backbone alone (section 3.3).
    return "BertForMaskedLM" if cfg.task.method == "distilbert" else "BertModel"


def make_student(cfg, teacher, log):
    """The student: loaded from ``model.init_from``, or built from the teacher's (or
    ``model.name``'s) widths and initialised from the teacher's layers or at random."""
    d, m = cfg.task, cfg.model
    teacher_config = distill.encoder_of(teacher).config
    architecture = student_architecture(cfg, teacher)
    if m.init_from:
        path = resolve_checkpoint(m.init_from)
        labels = getattr(teacher, "head_args", {}).get("num_labels")
        student = tfmodels.from_pretrained(path, architecture=architecture, num_labels=labels)
        config = distill.encoder_of(student).config
        distill.check_student_depth(teacher_config.num_layers, config.num_layers, "model.init_from")
        distill.student_config(teacher_config, config.num_layers, config)  # vocabulary check
        log(f"student: {config.num_layers} layers, hidden {config.hidden_size}, from {path}")
        return student
    base = load_model_config(m.name) if m.name else None
    config = distill.student_config(teacher_config, d.student_layers, base)
    student = distill.build_student(teacher, config, architecture)
    init = d.student_init or (
        "teacher" if distill.same_widths(config, teacher_config) else "random"
    )
    how = "random initialisation"
    if init == "teacher":
        layers = distill.init_from_teacher(student, teacher, d.init_layers)
        how = f"the teacher's embeddings and blocks {layers}"
    log(
        f"student: {config.num_layers} of the teacher's {teacher_config.num_layers} layers, "
        f"hidden {config.hidden_size}, from {how}"
    )
    return student


def check_pairing(cfg, student, teacher):
    """What the method needs of the two models; TinyBERT's layer map g(1..M)."""
    d = cfg.task
    s, t = distill.encoder_of(student).config, distill.encoder_of(teacher).config
    if d.method == "distilbert" and s.hidden_size != t.hidden_size:
        raise ConfigError(
            f"task.method=distilbert: the cosine loss compares hidden states, so "
            f"the student keeps the teacher's width {t.hidden_size} (got "
            f"{s.hidden_size}); use task.method=tinybert for a narrower student"
        )
    if d.method != "tinybert":
        return None
    if d.layer_map is None:
        layer_map = distill.uniform_layer_map(t.num_layers, s.num_layers)
    else:
        layer_map = distill.check_layer_list(
            d.layer_map, s.num_layers, 1, t.num_layers, "task.layer_map"
        )
    student_blocks = distill.encoder_of(student).transformer_layers
    teacher_blocks = distill.encoder_of(teacher).transformer_layers
    for m, g in enumerate(layer_map):
        heads = student_blocks[m].attention.num_heads, teacher_blocks[g - 1].attention.num_heads
        if heads[0] != heads[1]:
            raise ConfigError(
                f"task.method=tinybert: the attention loss compares head by "
                f"head, so student layer {m + 1} needs the {heads[1]} heads of "
                f"teacher layer {g} (got {heads[0]})"
            )
    return layer_map


def _write_examples(path, examples):
    with atomic_write(path) as f:
        for i in range(len(examples)):
            f.write(
                json.dumps(
                    {
                        "id": examples.ids[i],
                        "a": examples.text_a[i],
                        "b": examples.text_b[i] if examples.text_b else None,
                        "label": examples.labels[i].item(),
                    }
                )
                + "\n"
            )


def _read_examples(path, dtype):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    pair = rows[0]["b"] is not None
    return Examples(
        [r["id"] for r in rows],
        [r["a"] for r in rows],
        [r["b"] for r in rows] if pair else None,
        np.asarray([r["label"] for r in rows], dtype),
    )


def augmented_training_set(cfg, train, model_dir, strategy, log):
    """TinyBERT's augmented training set, made once and kept in ``model_dir``."""
    d = cfg.task
    path = os.path.join(model_dir, "augmented_train.jsonl")
    if os.path.isfile(path):
        log(f"reusing the augmented training set {path}")
        return _read_examples(path, train.labels.dtype)
    mlm_path = resolve_checkpoint(d.augment_mlm, "task.augment_mlm")
    with strategy.scope():
        mlm = tfmodels.from_pretrained(mlm_path)
    tokenizer = tfmodels.preprocessor_from_pretrained(mlm_path, cfg.model.seq_length).tokenizer
    augmenter = MaskedLMAugmenter(
        mlm,
        tokenizer,
        cfg.model.seq_length,
        d.augment_candidates,
        d.augment_prob,
        d.augment_per_example,
        seed=cfg.trainer.seed,
    )
    started = time.time()
    examples = augment_examples(train, augmenter, log)
    _write_examples(path, examples)
    log(
        f"augmented {len(train)} examples to {len(examples)} in {time.time() - started:.0f}s "
        f"with {mlm_path}"
    )
    return examples


def _masking(cfg, vocab_dir, vocab_size):
    """Dynamic masking settings for pre-training records (None: the records' own masks)."""
    if not cfg.task.dynamic_masking:
        return None
    vocab = read_vocabulary(cfg.model.vocab_file or os.path.join(vocab_dir, "vocab.txt"))
    if len(vocab) > vocab_size:
        raise ConfigError(
            f"the vocabulary has {len(vocab)} tokens but the teacher's vocab_size is {vocab_size}"
        )
    return {
        "vocab_size": len(vocab),
        "mask_id": vocab.index("[MASK]"),
        "special_ids": [vocab.index(t) for t in ("[CLS]", "[SEP]", "[PAD]")],
        "mask_rate": cfg.task.mask_rate,
    }


def _phases(cfg, teacher, student, layer_map, steps):
    d = cfg.task
    encoder = distill.encoder_of(student)
    temperature = d.temperature or (2.0 if d.method == "distilbert" else 1.0)
    if d.method == "distilbert":
        return [
            Phase(
                "distilbert",
                distill.distilbert_loss(
                    teacher,
                    d.alpha_ce,
                    d.alpha_mlm,
                    d.alpha_cos,
                    temperature,
                    d.restrict_ce_to_mask,
                ),
                distill.Distiller(student),
                steps,
                [],
                d.stage == "task",
            )
        ]
    # The intermediate losses reach neither the pooler nor the heads: they stay as they are.
    heads = [encoder.pooler_layer] + [
        getattr(student, h, None) for h in ("classifier_head", "sentence_head")
    ]
    width = distill.encoder_of(teacher).config.hidden_size
    intermediate = Phase(
        "intermediate",
        distill.tinybert_intermediate_loss(teacher, layer_map),
        distill.Distiller(student, teacher_hidden_size=width),
        d.intermediate_steps or steps,
        heads,
        False,
    )
    if d.stage == "general":
        return [intermediate]
    return [
        intermediate,
        Phase(
            "prediction",
            distill.tinybert_prediction_loss(teacher, temperature),
            distill.Distiller(student),
            steps,
            [],
            True,
        ),
    ]


class DistillationTask(Task):
    """A student trained to imitate a teacher (DistilBERT, TinyBERT), phase by phase."""

    Config = DistillationConfig
    modes = ("train_and_eval",)

    @property
    def title(self):
        return f"{self.section.method} ({self.section.stage})"

    def prepare(self, mode):
        super().prepare(mode)
        _check(self.cfg)
        d = self.section
        self.glue = self.train_examples = None
        if d.stage == "task":  # every file read and checked before a model is built
            self.glue = read_text_task(d)
            self.train_examples, self.dev_examples, _ = read_splits(
                self.glue, d.data_dir, "train_and_eval"
            )
            self.main_metric = f"{self.glue.dev_files[0][0]}/score"
        else:
            check_records(d.input_files)
        self.teacher_path = resolve_checkpoint(d.teacher, "--teacher")

    def build_model(self):
        """The student; the teacher is kept beside it and never saved."""
        cfg, d = self.cfg, self.section
        self.teacher = load_teacher(cfg, self.teacher_path, self.glue)
        student = make_student(cfg, self.teacher, self.log)
        self.layer_map = check_pairing(cfg, student, self.teacher)
        teacher_config = distill.encoder_of(self.teacher).config
        self.vocab_dir = (
            os.path.dirname(cfg.model.vocab_file) if cfg.model.vocab_file else self.teacher_path
        )
        if d.stage == "task":
            self.preprocessor = tfmodels.preprocessor_from_pretrained(
                self.vocab_dir, cfg.model.seq_length
            )
            check_fits(
                teacher_config,
                self.preprocessor,
                cfg.model.seq_length,
                self.vocab_dir,
                "the teacher's",
            )
            student.label_names = list(
                getattr(self.teacher, "label_names", None) or self.glue.labels or []
            )
        else:
            check_seq_length(teacher_config, cfg.model.seq_length, "the teacher's")
            # The vocabulary read (and checked) before anything is written.
            self.masking = _masking(cfg, self.vocab_dir, teacher_config.vocab_size)
        return student

    def train_dataset(self):
        cfg, d, batch = self.cfg, self.section, self.cfg.data.train_batch_size
        if d.stage == "task":
            dataset = classification.make_dataset(
                self.train_examples,
                self.preprocessor,
                batch,
                training=True,
                seed=cfg.trainer.seed,
                shuffle_buffer=cfg.data.shuffle_buffer,
            )
            return dataset, len(self.train_examples)
        dataset = pretraining_dataset(
            d.input_files,
            batch,
            cfg.model.seq_length,
            d.max_predictions_per_seq,
            self.masking,
            seed=cfg.trainer.seed,
            shuffle_buffer=cfg.data.shuffle_buffer,
        )
        return dataset, None

    def evaluate(self, model):
        if getattr(self, "dev_sets", None) is None:  # tokenized once, at the first evaluation
            self.dev_sets = classification.DevSets(
                self.glue,
                self.preprocessor,
                self.section.data_dir,
                self.cfg.data.eval_batch_size,
                self.dev_examples,
            )
        return self.dev_sets.evaluate(model)

    def train(self, student, run):
        """Each phase in its own folder under ``model_dir`` (and resumed there)."""
        d, teacher = self.section, self.teacher
        if d.augment:
            self.train_examples = augmented_training_set(
                self.cfg, self.train_examples, run.model_dir, run.strategy, self.log
            )
        dataset, examples = self.train_dataset()
        steps = self.train_steps(examples)
        report = {
            "method": d.method,
            "stage": d.stage,
            "teacher": self.teacher_path,
            "teacher_layers": distill.encoder_of(teacher).config.num_layers,
            "student_layers": distill.encoder_of(student).config.num_layers,
            "teacher_parameters": int(teacher.count_params()),
            "student_parameters": int(student.count_params()),
            "layer_map": self.layer_map,
            "phases": {},
        }
        with run.strategy.scope():  # TinyBERT's projections are variables too
            self.phases = _phases(self.cfg, teacher, student, self.layer_map, steps)
        for index, phase in enumerate(self.phases):
            # A fresh stream per phase: one an earlier phase read (read-ahead included)
            # would reshuffle differently from run to run.
            if index:
                dataset = self.train_dataset()[0]
            run.announce(
                f"distilling {d.method} ({d.stage}, phase {phase.name}) for "
                f"{phase.steps} steps, batch {self.cfg.data.train_batch_size}, "
                f"seq_length {self.cfg.model.seq_length}"
            )
            evaluate = None
            if phase.evaluate:
                evaluate = lambda: self.evaluate(student)  # noqa: E731
            with distill.frozen(phase.frozen):
                report["phases"][phase.name] = run.fit(
                    phase.distiller,
                    phase.loss_fn,
                    dataset,
                    phase.steps,
                    model_dir=os.path.join(run.model_dir, phase.name),
                    evaluate=evaluate,
                    main_metric=self.main_metric,
                )
        return report

    def restore(self, student, model_dir):
        """The last phase's best checkpoint (None: the student as trained)."""
        phase = self.phases[-1]
        latest = tf.train.latest_checkpoint(os.path.join(model_dir, phase.name, "best"))
        if not latest:
            return None
        with open(os.path.join(model_dir, phase.name, "best", "best.json")) as f:
            best = json.load(f)
        if best["step"] != phase.steps:  # else the student holds these weights already
            tf.train.Checkpoint(model=phase.distiller).restore(latest).expect_partial()
        return latest

    def final_results(self, student):
        return self.evaluate(student) if self.glue else None

    def finish(self, student, model_dir):
        report = {"student": os.path.join(model_dir, "hf_model")}
        if self.glue and self.section.compare_teacher:
            report["teacher_eval"] = self.evaluate(self.teacher)
        return report

    def save(self, student, model_dir):
        student.source_path = self.vocab_dir  # save_pretrained copies the tokenizer files
        tfmodels.save_pretrained(student, os.path.join(model_dir, "hf_model"))

    def result_lines(self, report):
        lines = [
            f"teacher {report['teacher_layers']} layers ({report['teacher_parameters']:,} "
            f"parameters) -> student {report['student_layers']} layers "
            f"({report['student_parameters']:,}), saved in {report.get('student')}"
        ]
        for key, value in report.get("teacher_eval", {}).items():
            if isinstance(value, float):
                lines.append(f"{'teacher ' + key:34s} {value:.4f}")
        return lines
