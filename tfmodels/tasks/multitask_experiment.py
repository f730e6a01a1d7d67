"""MT-DNN runs (Liu et al. 2019, section 4): what run_multitask.py runs.

Stage 1 trains the shared encoder and every task's head on mini-batches of all
tasks mixed by :mod:`tfmodels.tasks.task_sampling` (checkpoints and resume under
``model_dir``), then evaluates every task on its dev set with its GLUE metric.
Stage 2 (``multitask.finetune_steps``) fine-tunes, for each task, the stage-1
encoder + that task's head on the task alone (under ``model_dir/finetune/<task>``).
Outputs: ``metrics.json`` (per task, per stage), ``hf_model/encoder`` (the shared
encoder), ``hf_model/<task>`` (and ``finetune/<task>/hf_model``): each task's
encoder + head as the family's ``…ForSequenceClassification``.
"""
import dataclasses
import json
import os
import time
from typing import List, Optional

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import ConfigError
from tfmodels.tasks import classification, multitask
from tfmodels.tasks.classifier_experiment import _copy_vocab, _restore_trained
from tfmodels.tasks.glue import get_task
from tfmodels.tasks.metrics import classification_metrics, glue_average
from tfmodels.tasks.task_sampling import SAMPLINGS, mix_tasks
from tfmodels.training import experiment
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.trainer import Trainer, write_json


@dataclasses.dataclass
class TaskEntry:
    name: str = ""                   # a GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, ...
    data_dir: Optional[str] = None   # default: multitask.glue_dir/<GLUE folder>
    head: Optional[str] = None       # classification | regression | ranking; default by task


@dataclasses.dataclass
class MultitaskSection:
    tasks: List[TaskEntry] = dataclasses.field(default_factory=list)
    glue_dir: Optional[str] = None   # the GLUE root, for tasks without data_dir
    sampling: str = "epochs"         # epochs (Algorithm 1) | temperature (p_t ∝ n_t^(1/T))
    temperature: float = 1.0         # sampling=temperature: 1 proportional, .inf uniform
    ranking_gamma: float = 1.0       # γ of the ranking softmax (section 3.1)
    finetune_steps: Optional[int] = None  # stage 2 steps per task; 0/None: no stage 2
    finetune_lr: Optional[float] = None   # default: optimizer.lr


@dataclasses.dataclass
class MultitaskExperimentConfig(experiment.ExperimentConfig):
    """The experiment sections plus ``multitask``; ``task`` is unused (tasks are listed
    in ``multitask.tasks``), ``model`` is the shared encoder."""

    multitask: MultitaskSection = dataclasses.field(default_factory=MultitaskSection)


def load_multitask_experiment(path=None, overrides=()):
    """The YAML at ``path`` (or the defaults) with ``--set`` overrides applied."""
    return experiment.load_experiment(path, overrides, config_class=MultitaskExperimentConfig)


@dataclasses.dataclass
class TaskData:
    name: str
    task: object          # glue.Task
    data_dir: str
    spec: multitask.HeadSpec
    train: object = None  # glue.Examples


def resolve_tasks(section):
    """Checks ``multitask.tasks``: known GLUE tasks, existing folders, fitting heads."""
    if not section.tasks:
        raise ConfigError("multitask.tasks: list at least one task (name + data_dir)")
    if section.sampling not in SAMPLINGS:
        raise ConfigError(f"multitask.sampling: unknown sampling {section.sampling!r}; "
                          f"known: {', '.join(SAMPLINGS)}")
    tasks = []
    for i, entry in enumerate(section.tasks):
        key = f"multitask.tasks[{i}]"
        if not entry.name or entry.name.lower() == "tsv":
            raise ConfigError(f"{key}.name: give a GLUE task name (tsv is not supported here)")
        task = get_task(entry.name)
        if task.name in [t.name for t in tasks]:
            raise ConfigError(f"{key}.name: task {task.name} is listed twice")
        data_dir = entry.data_dir or (os.path.join(section.glue_dir, task.folder)
                                      if section.glue_dir else None)
        if not data_dir or not os.path.isdir(data_dir):
            raise ConfigError(f"{key}.data_dir: folder not found: {data_dir}")
        spec = multitask.head_spec_for_task(task, entry.head)
        tasks.append(TaskData(task.name, task, data_dir, spec))
    return tasks


def build_encoder_and_preprocessor(cfg):
    """The shared encoder: a checkpoint's backbone (``model.init_from``) or a named
    configuration (``model.name``, random), and the preprocessor of its vocabulary."""
    m = cfg.model
    path = resolve_checkpoint(m.init_from) if m.init_from else None
    if path:
        encoder = tfmodels.from_pretrained(path, architecture="backbone")
    elif m.name:
        encoder = tfmodels.build(m.name)
    else:
        raise ConfigError("set model.init_from (a checkpoint) or model.name (a configuration)")
    vocab_dir = os.path.dirname(m.vocab_file) if m.vocab_file else path
    if not vocab_dir:
        raise ConfigError("model.name without model.init_from needs model.vocab_file")
    if m.seq_length > encoder.config.max_position_embeddings:
        raise ConfigError(f"model.seq_length {m.seq_length} exceeds the model's "
                          f"max_position_embeddings {encoder.config.max_position_embeddings}")
    preprocessor = tfmodels.preprocessor_from_pretrained(vocab_dir, seq_length=m.seq_length)
    if preprocessor.vocab_size > encoder.config.vocab_size:
        raise ConfigError(f"the vocabulary in {vocab_dir} has {preprocessor.vocab_size} tokens "
                          f"but the model's vocab_size is {encoder.config.vocab_size}")
    return encoder, preprocessor


def _targets(task_id, labels, group):
    return {"task": tf.fill(tf.shape(labels), tf.constant(task_id, tf.int32)),
            "labels": tf.cast(labels, tf.float32), "group": tf.cast(group, tf.int32)}


def task_dataset(data, task_id, preprocessor, batch_size, seed=0, shuffle_buffer=10000):
    """Endless ``(features, {task, labels, group})`` training batches of one task.

    A ranking task is shuffled by question, so a question's candidates stay together.
    """
    examples = data.train
    if data.spec.kind != "ranking":
        ds = classification.make_dataset(examples, preprocessor, batch_size, training=True,
                                         seed=seed, shuffle_buffer=shuffle_buffer)
        return ds.map(lambda f, y: (f, _targets(task_id, y, tf.zeros_like(y, tf.int32))))
    groups = multitask.question_groups(examples.text_a)
    order = np.argsort(groups, kind="stable")
    rows = tf.RaggedTensor.from_value_rowids(order, groups[order])
    texts = (examples.text_a,) if examples.text_b is None else (examples.text_a,
                                                                examples.text_b)
    table = (tuple(tf.constant(t) for t in texts), tf.constant(examples.labels),
             tf.constant(groups))
    ds = tf.data.Dataset.from_tensor_slices(rows).shuffle(
        int(groups.max()) + 1, seed=seed, reshuffle_each_iteration=True).repeat().unbatch()
    ds = ds.map(lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), table))
    ds = classification.tokenize_batches(ds.batch(batch_size, drop_remainder=True),
                                         preprocessor)
    return ds.map(lambda f, y, g: (f, _targets(task_id, y, g)))


def dev_sets(data, preprocessor, batch_size):
    """``[(split, examples, dataset)]`` of a task's dev files, built once and reused by
    every evaluation (building a tokenizing dataset costs seconds)."""
    return [(split, examples, classification.make_dataset(examples, preprocessor, batch_size))
            for split, examples in ((s, data.task.read(data.data_dir, f))
                                    for s, f in data.task.dev_files)]


def evaluate_task(data, model, sets):
    """``{split/metric}`` of one task with its GLUE metric (``model``: a task model with
    ``logits``); a ranking head is judged per question (:func:`ranking_predictions`)."""
    results = {}
    for split, examples, dataset in sets:
        logits = classification.predict_logits(model, dataset)
        if data.spec.kind == "ranking":
            predictions = multitask.ranking_predictions(
                logits, multitask.question_groups(examples.text_a), data.spec.positive)
        else:
            predictions = classification.predictions_from_logits(logits)
        metrics = classification_metrics(examples.labels, predictions, data.task.metric)
        results.update({f"{split}/{k}": v for k, v in metrics.items()})
    return results


def _task_score(results):
    scores = [v for k, v in results.items() if k.endswith("/score")]
    return float(np.mean(scores)) if scores else 0.0


def evaluate_all(tasks, views, sets):
    """``{task/split/metric}`` for every task and ``average_score`` (the GLUE average)."""
    flat, scores = {}, {}
    for data in tasks:
        results = evaluate_task(data, views[data.name], sets[data.name])
        flat.update({f"{data.name}/{k}": v for k, v in results.items()})
        scores[data.name] = _task_score(results)
    flat["average_score"] = glue_average(scores)
    return flat


def _per_task(flat, tasks):
    return {d.name: {k[len(d.name) + 1:]: v for k, v in flat.items()
                     if k.startswith(d.name + "/")} for d in tasks}


def _trainer(cfg, strategy, model_dir, model, loss_fn, steps, optimizer_section, evaluate,
             jit_compile, loss_scale):
    with strategy.scope():
        optimizer = create_optimizer(optimizer_section, cfg.schedule, steps)
    return Trainer.from_experiment(cfg, strategy, model_dir, model, optimizer, loss_fn, steps,
                                   jit_compile=jit_compile, loss_scale=loss_scale,
                                   evaluate=evaluate, main_metric="average_score")


def _restore_and_evaluate(model, model_dir, evaluate):
    """Loads the best (else the latest) checkpoint and its dev metrics: those the
    trainer recorded when the best one is the current weights, else a new evaluation."""
    restored = _restore_trained(model, model_dir)
    best_file = os.path.join(model_dir, "best", "best.json")
    if restored and os.path.isfile(best_file) and restored.startswith(
            os.path.join(model_dir, "best")):
        with open(best_file, encoding="utf-8") as f:
            best = json.load(f)
        if best["step"] == int(restored.rsplit("-", 1)[-1]):
            return restored, best["metrics"]
    return restored, evaluate()


def _save_task_models(model, tasks, preprocessor, folder_of):
    for data in tasks:
        out = folder_of(data.name)
        tfmodels.save_pretrained(multitask.task_classifier(model, data.name, data.task.labels),
                                 out)
        _copy_vocab(preprocessor, out)


def run(cfg, model_dir, strategy_name="default", tpu=None, precision="float32",
        jit_compile=False):
    if not model_dir:
        raise ConfigError("--model_dir is required")
    mt = cfg.multitask
    tasks = resolve_tasks(mt)
    for data in tasks:
        data.train = data.task.read(data.data_dir, data.task.train_file)
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    with strategy.scope():
        encoder, preprocessor = build_encoder_and_preprocessor(cfg)
        model = multitask.MultiTaskModel(encoder, {d.name: d.spec for d in tasks})
    os.makedirs(model_dir, exist_ok=True)
    views = {d.name: model.task_model(d.name) for d in tasks}
    batch, eval_batch = cfg.data.train_batch_size, cfg.data.eval_batch_size
    sizes = [len(d.train) for d in tasks]
    datasets = [task_dataset(d, i, preprocessor, batch, seed=cfg.trainer.seed + i,
                             shuffle_buffer=cfg.data.shuffle_buffer) for i, d in enumerate(tasks)]
    mixed = mix_tasks(datasets, sizes, batch, mt.sampling, mt.temperature, cfg.trainer.seed)
    steps = cfg.trainer.train_steps or max(1, int(
        cfg.trainer.epochs * sum(-(-n // batch) for n in sizes) / cfg.trainer.accumulation_steps))
    print(f"multi-task training on {', '.join(f'{d.name} ({n}, {d.spec.kind})' for d, n in zip(tasks, sizes))} "  # noqa: E501
          f"for {steps} steps, batch {batch}, sampling {mt.sampling}"
          f"{f' T={mt.temperature}' if mt.sampling == 'temperature' else ''}, "
          f"seq_length {cfg.model.seq_length}, {strategy.num_replicas_in_sync} replica(s), "
          f"{precision}", flush=True)
    sets = {d.name: dev_sets(d, preprocessor, eval_batch) for d in tasks}
    evaluate = lambda: evaluate_all(tasks, views, sets)  # noqa: E731
    trainer = _trainer(cfg, strategy, model_dir, model,
                       multitask.multitask_loss_fn(model.head_specs, mt.ranking_gamma), steps,
                       cfg.optimizer, evaluate, jit_compile, loss_scale)
    started = time.time()
    summary = trainer.train(mixed)
    restored, results = _restore_and_evaluate(model, model_dir, evaluate)
    report = {"tasks": {d.name: {"train_examples": len(d.train), "head": d.spec.kind,
                                 "data_dir": d.data_dir} for d in tasks},
              "multitask": {**summary, "checkpoint": restored,
                            "average_score": results["average_score"],
                            "eval": _per_task(results, tasks)}}
    if trainer.chief:
        hf_dir = os.path.join(model_dir, "hf_model")
        tfmodels.save_pretrained(model.encoder, os.path.join(hf_dir, "encoder"))
        _copy_vocab(preprocessor, os.path.join(hf_dir, "encoder"))
        _save_task_models(model, tasks, preprocessor, lambda t: os.path.join(hf_dir, t))
        plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                     title="MT-DNN stage 1: " + ", ".join(d.name for d in tasks))
    if mt.finetune_steps:
        report["finetune"] = _finetune(cfg, strategy, model, tasks, views, datasets,
                                       sets, preprocessor, model_dir, jit_compile, loss_scale,
                                       trainer.chief)
        report["finetune_average_score"] = glue_average(
            {t: r["score"] for t, r in report["finetune"].items()})
    report["wall_seconds"] = time.time() - started
    if trainer.chief:
        write_json(os.path.join(model_dir, "metrics.json"), report)
    _print_report(report)
    return report


def _finetune(cfg, strategy, model, tasks, views, datasets, sets, preprocessor, model_dir,
              jit_compile, loss_scale, chief):
    """Stage 2: per task, from the stage-1 weights, that task alone."""
    mt = cfg.multitask
    stage1 = model.get_weights()
    optimizer_section = dataclasses.replace(cfg.optimizer, lr=mt.finetune_lr or cfg.optimizer.lr)
    out = {}
    for data, dataset in zip(tasks, datasets):
        model.set_weights(stage1)
        task_dir = os.path.join(model_dir, "finetune", data.name)
        view = views[data.name]
        print(f"fine-tuning {data.name} for {mt.finetune_steps} steps from the multi-task model",
              flush=True)

        def evaluate(data=data, view=view):
            results = evaluate_task(data, view, sets[data.name])
            return {**results, "average_score": _task_score(results)}
        trainer = _trainer(cfg, strategy, task_dir, view,
                           multitask.single_task_loss_fn(data.spec, mt.ranking_gamma),
                           mt.finetune_steps, optimizer_section, evaluate, jit_compile,
                           loss_scale)
        summary = trainer.train(dataset)
        restored, results = _restore_and_evaluate(view, task_dir, evaluate)
        out[data.name] = {"eval": {k: v for k, v in results.items() if k != "average_score"},
                          "score": results["average_score"], "checkpoint": restored,
                          "steps": summary["steps"], "seconds": summary["seconds"]}
        if chief:
            _save_task_models(model, [data], preprocessor,
                              lambda t, d=task_dir: os.path.join(d, "hf_model"))
    model.set_weights(stage1)
    return out


def _print_report(report):
    print("\n== results ==")
    for name, results in report["multitask"]["eval"].items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in results.items() if isinstance(v, float))
        print(f"multi-task  {name:6s} {shown}")
    for name, row in report.get("finetune", {}).items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in row["eval"].items() if isinstance(v, float))
        print(f"fine-tuned  {name:6s} {shown}")
    print(f"average score: multi-task {report['multitask']['average_score']:.4f}" +
          (f", fine-tuned {report['finetune_average_score']:.4f}"
           if "finetune" in report else "") + f"; wall time {report['wall_seconds']:.0f}s")
