"""Batches padded to their own length (tfmodels.tasks.batching) and the tasks that use
them: the bucketing keeps every example, the cut keeps labels aligned, and a model
gives the same outputs on a cut batch as on the batch padded to seq_length."""

import dataclasses
import types

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import minilm_dir, tiny_bert_config
from tests.models import (
    test_albert,
    test_bert,
    test_deberta,
    test_distilbert,
    test_electra,
    test_mobilebert,
    test_roberta,
)
from tfmodels.models import bert, transformer
from tfmodels.pretraining.seq2seq import IGNORE, seq2seq_lm_loss
from tfmodels.tasks import batching, classification, conll, multitask, seq2seq, squad
from tfmodels.tasks.glue import Examples, get_task
from tfmodels.tasks.multitask_experiment import TaskData, dev_sets, evaluate_task, task_dataset
from tfmodels.tasks.seq2seq_experiment import Predictor, Seq2SeqConfig
from tfmodels.tasks.tagging_experiment import predict_tags

ATOL = 1e-5
BATCH = 4
SEQ = 64


@pytest.fixture(scope="module")
def wordpiece():
    return tfmodels.preprocessor_from_pretrained(minilm_dir(), SEQ)


def seeded(model, seed=0):
    """``model`` with weights drawn from a seeded NumPy generator (TF's global seed is
    left alone, see tests/conftest.py), so the comparisons below see fixed weights."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = weight.shape
        if len(shape) > 1:
            weight.assign(rng.normal(0.0, 0.2, shape))
        elif "gamma" in weight.name:
            weight.assign(np.ones(shape))
        else:
            weight.assign(rng.normal(0.0, 0.02, shape))
    return model


def tiny_bert(model_class, **kwargs):
    """A tiny random BERT task model over the real uncased vocabulary."""
    return seeded(model_class(tiny_bert_config(SEQ), **kwargs))


def words(count, word="the"):
    return " ".join([word] * count)


def check_cut(features, seq_length=SEQ):
    """The batch is cut to its longest row and one padding position, rounded up to a
    multiple of 16 (at most ``seq_length``); returns the width."""
    mask = np.asarray(features["input_mask"])
    width = mask.shape[1]
    longest = int(mask.sum(1).max())
    assert width == int(batching.padded_length(longest, seq_length))
    assert longest <= width <= seq_length and (width % 16 == 0 or width == seq_length)
    return width


# ---------------------------------------------------------------------- bucketed_batches


def bucket_pass(count, seq_length=SEQ, seed=0):
    """One pass of ``bucketed_batches`` over ``count`` examples (a finite stream): row i
    is ``i + 1`` repeated over its random length, so a row names its example."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, seq_length + 1, count)
    mask = (np.arange(seq_length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = mask * (np.arange(count)[:, None] + 1)
    stream = tf.data.Dataset.from_tensor_slices(
        ({"input_ids": ids, "input_mask": mask}, np.arange(count))
    ).shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return batching.bucketed_batches(
        stream.batch(BATCH * batching.WINDOW_BATCHES),
        BATCH,
        lambda features, index: batching.mask_lengths(features["input_mask"]),
        classification.cut_features,
        seed=seed,
    )


def epoch(dataset):
    return [(f["input_ids"].numpy(), f["input_mask"].numpy(), i.numpy()) for f, i in dataset]


@pytest.mark.parametrize("count", [2 * BATCH * batching.WINDOW_BATCHES, 150])
def test_bucketed_batches_keep_every_example_once_in_few_widths(count):
    dataset = bucket_pass(count)
    first, second = epoch(dataset), epoch(dataset)
    for batches in (first, second):
        seen = np.concatenate([index for _, _, index in batches])
        # Full windows split into whole batches; the last, partial window leaves
        # count % BATCH examples over, dropped as drop_remainder did before. (Training
        # batches windows of the repeated stream: every window is full, none is dropped.)
        assert len(seen) == len(set(seen)) == count - count % BATCH
        widths = []
        for ids, mask, index in batches:
            widths.append(check_cut({"input_mask": mask}))
            np.testing.assert_array_equal(ids, mask * (index[:, None] + 1))  # rows kept whole
        assert len(set(widths)) <= batching.shape_count(SEQ)
        longest = [int(mask.sum(1).max()) for _, mask, _ in batches]
        assert longest != sorted(longest)  # the sorted batches are shuffled again
    groups = lambda batches: {frozenset(index.tolist()) for _, _, index in batches}  # noqa: E731
    assert groups(first) != groups(second)  # a new epoch shuffles examples into new batches


# ------------------------------------------------------------------------ classification


def counted_examples(counts):
    """Texts of ``n`` words whose label is ``n`` (a regression target), in a mixed order."""
    return Examples(
        [str(i) for i in range(len(counts))],
        [words(n) for n in counts],
        None,
        np.asarray(counts, np.float32),
    )


COUNTS = [3, 40, 1, 7, 12, 2, 30, 5, 9, 1, 60, 4, 2, 8]


def test_classification_batches_are_cut_and_keep_labels_with_their_texts(wordpiece):
    examples = counted_examples(COUNTS)
    train = classification.make_dataset(examples, wordpiece, BATCH, training=True)
    for features, labels in train.take(8):
        check_cut(features)
        # [CLS] the.. [SEP]: a label is its row's length less the two special tokens.
        np.testing.assert_array_equal(features["input_mask"].numpy().sum(1) - 2, labels.numpy())
    seen = []
    for features, labels in classification.make_dataset(examples, wordpiece, BATCH):
        check_cut(features)
        np.testing.assert_array_equal(features["input_mask"].numpy().sum(1) - 2, labels.numpy())
        seen.extend(labels.numpy())
    np.testing.assert_array_equal(seen, examples.labels)  # evaluation keeps the order


def test_predict_examples_returns_each_examples_own_logits_in_order(wordpiece):
    model = tiny_bert(bert.BertForSequenceClassification, num_labels=3)
    examples = counted_examples(COUNTS)
    logits = classification.predict_examples(model, examples, wordpiece, BATCH)
    full = wordpiece(tf.constant(examples.text_a))  # every row padded to seq_length
    alone = np.concatenate(
        [model({k: v[i : i + 1] for k, v in full.items()})["logits"] for i in range(len(COUNTS))]
    )
    np.testing.assert_allclose(logits, alone, atol=ATOL)


# ------------------------------------------------------------- every classifier family


def deberta_without_buckets():
    """DeBERTa (v1/v2-style) attention: no log buckets, absolute positions in the input,
    separate position projections, no LayerNorm on the relative table."""
    config = dataclasses.replace(
        test_deberta.TINY,
        position_buckets=-1,
        position_biased_input=True,
        share_att_key=False,
        norm_rel_ebd="none",
    )
    return test_deberta.SPEC, config


FAMILIES = {
    module.SPEC.name: (module.SPEC, module.SPEC.config)
    for module in (
        test_bert,
        test_albert,
        test_mobilebert,
        test_roberta,
        test_electra,
        test_distilbert,
        test_deberta,  # DeBERTa-v3's attention: log buckets, shared keys
    )
}
FAMILIES["deberta-v2-no-buckets"] = deberta_without_buckets()


def padded_batch(config, keys, lengths, seq_length):
    """Random ids in rows of ``lengths``, the rest the family's padding."""
    rng = np.random.default_rng(1)
    pad = getattr(config, "pad_token_id", 0) or 0
    mask = (np.arange(seq_length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int32)
    ids = np.where(mask > 0, rng.integers(5, config.vocab_size, mask.shape), pad)
    second = (np.arange(seq_length)[None, :] >= 3) * mask  # a second segment, if any
    features = {
        "input_ids": ids.astype(np.int32),
        "input_mask": mask,
        "segment_ids": second.astype(np.int32) * (getattr(config, "type_vocab_size", 0) > 1),
    }
    return {k: tf.constant(v) for k, v in features.items() if k in keys}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_classifier_family_gives_the_same_logits_on_a_cut_batch(family):
    spec, config = FAMILIES[family]
    model = spec.roles["classification"].build(config)
    seq_length = 16  # the tiny configs' positions
    full = padded_batch(config, spec.features, [4, 11, 7], seq_length)
    model(full)  # built, so that its weights can be drawn far from 0: differences show
    seeded(model)
    # Cut as tightly as the cut goes: the longest row and one padding position.
    cut = batching.cut_to_longest(full, batching.mask_lengths(full["input_mask"]), multiple=1)
    assert cut["input_ids"].shape[1] == 12
    signature = {k: tf.TensorSpec([None, None], tf.int32, name=k) for k in full}
    logits = tf.function(lambda f: model(f, training=False)["logits"], input_signature=[signature])
    np.testing.assert_allclose(logits(cut).numpy(), logits(full).numpy(), atol=ATOL)


# -------------------------------------------------------------------------------- SQuAD


SQUAD_CONTEXT = "Anna Smith opened the small cafe of Zurich in 1990. It closed in 2011."


@pytest.fixture(scope="module")
def squad_features(wordpiece, tmp_path_factory):
    from tests.tasks.test_squad import CONTEXT, QUESTIONS, qa, write_squad

    short = [
        qa("who", "Who opened it?", "Anna Smith", context=SQUAD_CONTEXT),
        qa("when", "When did it close?", "2011", context=SQUAD_CONTEXT),
        qa("none", "Who ate?", impossible=True, plausible="Anna", context=SQUAD_CONTEXT),
    ]
    root = tmp_path_factory.mktemp("squad")
    examples = []
    for name, questions, context in (("short", short, SQUAD_CONTEXT), ("long", QUESTIONS, CONTEXT)):
        examples += squad.read_squad(write_squad(root / f"{name}.json", questions, context))[0]
    features = squad.convert_examples(examples, wordpiece, SEQ, doc_stride=16, max_query_length=8)
    return examples, features


def test_squad_batches_are_cut_and_targets_stay_inside(squad_features):
    examples, features = squad_features
    assert features.start_positions[2] == features.end_positions[2] == 0  # impossible: [CLS]
    full_rows = {tuple(r[r > 0]): i for i, r in enumerate(features.input_ids)}
    widths = []
    train = squad.make_dataset(features, 2, training=True)
    for inputs, (starts, ends) in train.take(12):
        widths.append(check_cut(inputs))
        for ids, start, end in zip(inputs["input_ids"].numpy(), starts.numpy(), ends.numpy()):
            row = full_rows[tuple(ids[ids > 0])]  # the window this row came from
            assert (start, end) == (features.start_positions[row], features.end_positions[row])
            assert 0 <= start <= end < ids.shape[0] and ids[end] == features.input_ids[row, end]
    assert min(widths) < SEQ


def test_squad_predictions_equal_those_of_full_length_batches(squad_features):
    examples, features = squad_features
    model = tiny_bert(bert.BertForQuestionAnswering)
    starts, ends = squad.predict_logits(model, features, 3)
    full = model(features.inputs(), training=False)
    real = features.input_mask > 0
    for cut, whole in ((starts, full["start_logits"]), (ends, full["end_logits"])):
        np.testing.assert_allclose(cut[real], whole.numpy()[real], atol=ATOL)
        assert np.all((cut == squad.PAD_LOGIT) | (cut > -1e8))  # past a cut: PAD_LOGIT only
    # With n_best_size >= seq_length every position is a candidate in both runs (with
    # fewer, a full-length run may spend n-best slots on padding past the cut).
    got = squad.decode(examples, features, starts, ends, n_best_size=SEQ)
    expected = squad.decode(
        examples,
        features,
        full["start_logits"].numpy(),
        full["end_logits"].numpy(),
        n_best_size=SEQ,
    )
    assert got[0] == expected[0]
    assert got[1] == pytest.approx(expected[1], abs=1e-4)


# ------------------------------------------------------------------------------ tagging


@pytest.fixture(scope="module")
def tagging_features(wordpiece):
    lengths = [2, 30, 5, 1, 9, 3, 14, 4]
    sentences = [
        conll.Sentence([f"w{i}"] * n, ["B-PER"] + ["O"] * (n - 1), list(range(n)))
        for i, n in enumerate(lengths)
    ]
    labels = ["O", "B-PER"]
    return conll.make_features(sentences, wordpiece, conll.label_ids(sentences, labels, "t"))


def test_tagging_batches_cut_labels_and_weights_with_the_features(tagging_features):
    f = tagging_features
    full_rows = {tuple(r[r > 0]): i for i, r in enumerate(f.input_ids)}
    for inputs, labels, weights in conll.make_dataset(f, 3, training=True).take(8):
        width = check_cut(inputs)
        assert labels.shape[1] == weights.shape[1] == width
        for ids, row_labels, row_weights in zip(
            inputs["input_ids"].numpy(), labels.numpy(), weights.numpy()
        ):
            row = full_rows[tuple(ids[ids > 0])]
            np.testing.assert_array_equal(row_labels, f.labels[row, :width])
            np.testing.assert_array_equal(row_weights, f.weights[row, :width])
            assert f.weights[row, width:].sum() == 0  # no labelled token was cut off


def test_tagging_predictions_equal_those_of_full_length_batches(tagging_features):
    f = tagging_features
    model = tiny_bert(bert.BertForTokenClassification, num_labels=2)
    widths = [check_cut(inputs) for inputs, _, _ in conll.make_dataset(f, 3)]
    assert min(widths) < SEQ
    labels = ["O", "B-PER"]
    got = predict_tags(model, types.SimpleNamespace(features=f), labels, 3)
    ids = np.argmax(model(f.model_inputs(), training=False)["logits"].numpy(), -1)
    assert got == [[labels[i] for i in row] for row in conll.words_from_rows(ids, f)]


# ------------------------------------------------------------------------------ seq2seq


LETTERS = [chr(ord("a") + i) for i in range(16)]


@pytest.fixture(scope="module")
def letters(tmp_path_factory):
    """A tiny random Transformer, its encoding (sources up to 40 tokens, targets 24) and
    pairs of every length."""
    root = tmp_path_factory.mktemp("letters")
    (root / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + LETTERS) + "\n"
    )
    config = transformer.Config(
        vocab_size=21,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        dropout=0.0,
    )
    model = seeded(transformer.TransformerForConditionalGeneration(config))
    source = tfmodels.preprocessor_from_pretrained(str(root), 40)
    target = tfmodels.preprocessor_from_pretrained(str(root), 25)
    encoding = seq2seq.Encoding(source, target, model.decoder_start_id)
    rng = np.random.default_rng(0)
    sources = [" ".join(rng.choice(LETTERS, n)) for n in [2, 30, 5, 3, 12, 1, 36, 4, 6, 2, 9, 3]]
    targets = [" ".join(s.split()[:10][::-1]) for s in sources]
    return model, encoding, seq2seq.Pairs("x", sources, targets, list(range(len(sources))))


def test_seq2seq_sides_are_cut_apart_and_the_loss_is_unchanged(letters):
    model, encoding, pairs = letters
    features = encoding.features(pairs)
    batches = list(seq2seq.make_dataset(features, 4))
    at = 0
    for batch in batches:
        rows = len(batch["input_ids"])
        check_cut(batch, 40)
        target = check_cut({"input_mask": batch["decoder_input_mask"]}, 24)
        assert batch["decoder_input_ids"].shape[1] == batch["labels"].shape[1] == target
        full = {k: v[at : at + rows] for k, v in features.items()}
        assert np.all(full["labels"][:, target:] == IGNORE)  # no target token was cut off
        assert float(seq2seq_lm_loss(model, batch, False)[0]) == pytest.approx(
            float(seq2seq_lm_loss(model, full, False)[0]), abs=ATOL
        )
        at += rows
    assert min(b["input_ids"].shape[1] for b in batches) < 40
    for batch in seq2seq.make_dataset(features, 4, training=True).take(6):
        check_cut(batch, 40)
        check_cut({"input_mask": batch["decoder_input_mask"]}, 24)


def test_seq2seq_generation_equals_that_of_full_length_sources(letters):
    from tfmodels.generation import generate

    model, encoding, pairs = letters
    section = Seq2SeqConfig(target_length=6, decoding="beam", num_beams=2)
    got = Predictor(model, encoding, section, 5)(pairs.sources)
    features = {k: tf.constant(v) for k, v in encoding.source_features(pairs.sources).items()}
    tokens = generate(
        model,
        features,
        max_new_tokens=6,
        method="beam",
        num_beams=2,
        eos_id=encoding.eos_id,
        pad_id=encoding.pad_id,
    )
    assert got == encoding.decode(tokens.numpy())


# ---------------------------------------------------------------------------- multitask


@pytest.fixture(scope="module")
def qnli():
    """QNLI rows (question, sentence): the questions repeat, for the ranking head."""
    questions = [words(n, "why") for n in (2, 2, 9, 9, 1, 1, 20, 20, 3, 3)]
    sentences = [words(n) for n in (1, 4, 30, 2, 3, 5, 8, 40, 2, 6)]
    labels = np.asarray([0, 1] * 5, np.int64)
    examples = Examples([str(i) for i in range(10)], questions, sentences, labels)
    task = get_task("qnli")
    return examples, task


def test_multitask_batches_are_cut_and_evaluation_is_unchanged(qnli, wordpiece):
    examples, task = qnli
    spec = multitask.head_spec_for_task(task)  # ranking: batches of whole questions
    data = TaskData("qnli", task, None, spec, train=examples, dev=[("dev", examples)])
    for features, targets in task_dataset(data, 0, wordpiece, BATCH).take(6):
        check_cut(features)
        assert features["input_ids"].shape[0] == targets["labels"].shape[0] == BATCH
    model = seeded(multitask.MultiTaskModel(tiny_bert(bert.BertModel), {"qnli": spec}))
    view = model.task_model("qnli")
    sets = dev_sets(data, wordpiece, 3)
    full = view(wordpiece((tf.constant(examples.text_a), tf.constant(examples.text_b))))
    np.testing.assert_allclose(sets[0][2].logits(view), full["logits"], atol=ATOL)
    expected = evaluate_task(data, view, [("dev", examples, FixedLogits(full["logits"]))])
    assert evaluate_task(data, view, sets) == pytest.approx(expected)


@dataclasses.dataclass
class FixedLogits:
    """Stands for :class:`classification.OrderedBatches`, with logits computed already."""

    values: object

    def logits(self, model):
        return np.asarray(self.values)
