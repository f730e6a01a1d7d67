"""Fine-tuning and evaluating a sentence(-pair) classifier: what run_classifier.py runs.

Modes: ``train_and_eval`` (train, evaluate at checkpoints, keep the best checkpoint,
save it in the HF layout, optionally export a SavedModel), ``eval`` and
``predict`` (GLUE submission files). All outputs go under ``model_dir``.
"""
import json
import os
import time

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.atomic import atomic_path, atomic_write
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.convert.pretrained import TOKENIZER_FILES
from tfmodels.datasets.fortunes import FORTUNES_DIR, build_fortunes_dataset
from tfmodels.errors import ConfigError
from tfmodels.export import saved_model
from tfmodels.tasks import classification
from tfmodels.tasks.baselines import logistic_regression_baseline, majority_baseline
from tfmodels.tasks.glue import get_task
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.experiment import train_steps
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.sift import with_sift
from tfmodels.training.trainer import Trainer, write_json

MODES = ("train_and_eval", "eval", "predict")


def _ensure_data(cfg):
    task = cfg.task
    if task.build_data == "fortunes" and not os.path.isfile(
            os.path.join(task.data_dir or "", "train.tsv")):
        if not task.data_dir:
            raise ConfigError("task.build_data=fortunes needs task.data_dir")
        counts = build_fortunes_dataset(task.data_dir,
                                        source_dir=task.fortunes_dir or FORTUNES_DIR)
        print(f"built the fortunes topic dataset in {task.data_dir}: " +
              ", ".join(f"{s} {sum(c.values())}" for s, c in counts.items()))
    elif task.build_data not in (None, "fortunes"):
        raise ConfigError(f"task.build_data: unknown dataset {task.build_data!r} (known: fortunes)")


def build_model_and_preprocessor(cfg, num_labels=None, label_names=None,
                                 architecture="classification"):
    """The task model (a family task name: ``classification``, ``token_classification``,
    ``question_answering``) and its preprocessor, from ``model.init_from`` or ``model.name``."""
    m = cfg.model
    path = resolve_checkpoint(m.init_from) if m.init_from else None
    head_args = {"num_labels": num_labels} if num_labels else {}
    if path and not (os.path.isfile(os.path.join(path, "checkpoint")) and m.name):
        model = tfmodels.from_pretrained(path, architecture=architecture, **head_args)
    elif m.name:
        model = tfmodels.build(m.name, architecture=architecture, **head_args)
        if path:  # a tfmodels TF checkpoint of this configuration
            tf.train.Checkpoint(model=model).restore(tf.train.latest_checkpoint(path)) \
                .expect_partial()
    else:
        raise ConfigError("set model.init_from (a checkpoint) or model.name (a configuration)")
    vocab_dir = os.path.dirname(m.vocab_file) if m.vocab_file else path
    if not vocab_dir:
        raise ConfigError("model.name without model.init_from needs model.vocab_file")
    preprocessor = tfmodels.preprocessor_from_pretrained(vocab_dir, seq_length=m.seq_length)
    max_positions = getattr(model.config, "max_position_embeddings", None)  # None: relative
    if max_positions and m.seq_length > max_positions:
        raise ConfigError(f"model.seq_length {m.seq_length} exceeds the model's "
                          f"max_position_embeddings {max_positions}")
    if preprocessor.vocab_size > model.config.vocab_size:
        raise ConfigError(f"the vocabulary in {vocab_dir} has {preprocessor.vocab_size} tokens "
                          f"but the model's vocab_size is {model.config.vocab_size}: "
                          "they do not belong together")
    if label_names:
        model.label_names = list(label_names)
    return model, preprocessor


def _restore_trained(model, model_dir):
    """Loads the best (else the latest) checkpoint of a previous run, if there is one."""
    for folder in ("best", "checkpoints"):
        latest = tf.train.latest_checkpoint(os.path.join(model_dir, folder))
        if latest:
            tf.train.Checkpoint(model=model).restore(latest).expect_partial()
            return latest
    return None


def _predict(task, model, preprocessor, cfg, model_dir):
    out_dir = os.path.join(model_dir, "predictions")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for stem, file_name in task.test_files:
        examples = task.read(cfg.task.data_dir, file_name, labelled=False)
        dataset = classification.make_dataset(examples, preprocessor, cfg.data.eval_batch_size,
                                              with_labels=False)
        predictions = classification.predictions_from_logits(
            classification.predict_logits(model, dataset))
        path = os.path.join(out_dir, f"{stem}.tsv")
        with atomic_write(path) as f:
            f.write("index\tprediction\n")
            for index, p in zip(examples.ids, predictions):
                f.write(f"{index}\t{task.format_prediction(p)}\n")
        written.append(path)
    return written


def run(cfg, model_dir, mode="train_and_eval", strategy_name="default", tpu=None,
        precision="float32", jit_compile=False):
    if mode not in MODES:
        raise ConfigError(f"--mode: unknown mode {mode!r}; known: {', '.join(MODES)}")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    _ensure_data(cfg)
    t = cfg.task
    task = get_task(t.name, t.data_dir, t.text_a_column, t.text_b_column, t.label_column,
                    t.labels)
    if not t.data_dir or not os.path.isdir(t.data_dir):
        raise ConfigError(f"--data_dir: folder not found: {t.data_dir}")
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    os.makedirs(model_dir, exist_ok=True)
    with strategy.scope():
        model, preprocessor = build_model_and_preprocessor(cfg, task.num_labels, task.labels)
    batch = cfg.data.eval_batch_size
    if mode == "predict":
        _restore_trained(model, model_dir)
        for path in _predict(task, model, preprocessor, cfg, model_dir):
            print(f"wrote {path}")
        return {}
    if mode == "eval":
        restored = _restore_trained(model, model_dir)
        results = classification.evaluate(task, model, preprocessor, t.data_dir, batch)
        results["checkpoint"] = restored or cfg.model.init_from
        write_json(os.path.join(model_dir, "eval_results.json"), results)
        print(json.dumps(results, indent=2))
        return results

    train = task.read(t.data_dir, task.train_file)
    steps = train_steps(cfg, len(train))
    dataset = classification.make_dataset(train, preprocessor, cfg.data.train_batch_size,
                                          training=True, seed=cfg.trainer.seed,
                                          shuffle_buffer=cfg.data.shuffle_buffer)
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    main_metric = f"{task.dev_files[0][0]}/score"
    print(f"fine-tuning on {len(train)} {task.name} examples ({task.folder}) for {steps} steps, "
          f"batch {cfg.data.train_batch_size}, seq_length {cfg.model.seq_length}, "
          f"{strategy.num_replicas_in_sync} replica(s), {precision}")
    dev_sets = classification.DevSets(task, preprocessor, t.data_dir, batch)  # checked early
    # The task loss, plus SiFT's adversarial term when adversarial.method is sift.
    loss_fn = with_sift(classification.outputs_loss, cfg.adversarial)
    trainer = Trainer.from_experiment(
        cfg, strategy, model_dir, model, optimizer, loss_fn, steps, jit_compile=jit_compile,
        loss_scale=loss_scale, main_metric=main_metric,
        evaluate=lambda: dev_sets.evaluate(model))
    started = time.time()
    summary = trainer.train(dataset)
    restored = _restore_trained(model, model_dir)
    results = dev_sets.evaluate(model)
    results["checkpoint"] = restored
    report = {"task": task.name, "train_examples": len(train), "eval": results, **summary}
    if not trainer.chief:  # other workers of a multi-worker run leave the outputs to the chief
        return report
    write_json(os.path.join(model_dir, "eval_results.json"), results)
    if cfg.report.baselines and not task.is_regression:
        report["baselines"] = _baselines(task, t.data_dir, train)
    tfmodels.save_pretrained(model, os.path.join(model_dir, "hf_model"))
    _copy_vocab(preprocessor, os.path.join(model_dir, "hf_model"))
    if cfg.report.saved_model:
        export_dir = saved_model(model, os.path.join(model_dir, "saved_model"), preprocessor,
                                 label_names=task.labels, pair=task.columns.text_b is not None)
        report["saved_model"] = export_dir
        if task.columns.text_b is None:  # sample_texts are single texts
            report["sample_predictions"] = _sample_predictions(export_dir,
                                                               cfg.report.sample_texts)
    plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                 title=f"{task.name} ({task.folder})")
    report["wall_seconds"] = time.time() - started
    write_json(os.path.join(model_dir, "metrics.json"), report)
    _print_report(report, main_metric)
    return report


def _tokenizer_dir(preprocessor):
    """The folder of the files ``preprocessor``'s tokenizer was built from (None: in memory)."""
    tokenizer = preprocessor.tokenizer
    for attribute in ("vocabulary", "model_file"):  # WordPiece/byte-BPE; SentencePiece
        path = getattr(tokenizer, attribute, None)
        if isinstance(path, str) and os.path.isfile(path):
            return os.path.dirname(os.path.abspath(path))
    return None


def _copy_vocab(preprocessor, hf_dir):
    """Puts the preprocessor's tokenizer files (vocab.txt; vocab.json + merges.txt;
    spiece.model; tokenizer_config.json, ...) into ``hf_dir``, replacing another
    tokenizer's files there, so ``preprocessor_from_pretrained(hf_dir)`` rebuilds it."""
    source = _tokenizer_dir(preprocessor)
    if source is None or os.path.abspath(source) == os.path.abspath(hf_dir):
        return
    present = [n for n in TOKENIZER_FILES if os.path.isfile(os.path.join(source, n))]
    for name in TOKENIZER_FILES:
        target = os.path.join(hf_dir, name)
        if name in present:
            with atomic_path(target) as tmp:
                tf.io.gfile.copy(os.path.join(source, name), tmp, overwrite=True)
        elif os.path.isfile(target):
            os.remove(target)  # the checkpoint's own tokenizer, not the one trained with


def _joined_text(examples):
    """One string per example: the text, or both texts of a pair."""
    if examples.text_b is None:
        return examples.text_a
    return [a + " " + b for a, b in zip(examples.text_a, examples.text_b)]


def _baselines(task, data_dir, train):
    out = {}
    train_text = _joined_text(train)
    for split, file_name in task.dev_files:
        examples = task.read(data_dir, file_name)
        out[f"{split}/majority_accuracy"] = majority_baseline(train.labels, examples.labels)
        out[f"{split}/bow_logreg_accuracy"] = logistic_regression_baseline(
            train_text, train.labels, _joined_text(examples), examples.labels)
    return out


def _sample_predictions(export_dir, texts):
    if not texts:
        return []
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["serving_default"](text=tf.constant(texts))
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in out["label"].numpy()]
    best = np.max(out["probabilities"].numpy(), axis=-1)
    return [{"text": t, "label": label, "probability": float(p)}
            for t, label, p in zip(texts, labels, best)]


def _print_report(report, main_metric):
    print("\n== results ==")
    for key, value in report["eval"].items():
        if isinstance(value, float):
            print(f"{key:32s} {value:.4f}")
    for key, value in report.get("baselines", {}).items():
        print(f"{'baseline ' + key:32s} {value:.4f}")
    for row in report.get("sample_predictions", []):
        print(f"SavedModel says {row['label']!r} ({row['probability']:.2f}) for: {row['text']}")
    print(f"main metric {main_metric}; wall time {report['wall_seconds']:.0f}s")
