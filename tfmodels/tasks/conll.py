"""CoNLL-2003 style token tagging (Tjong Kim Sang & De Meulder 2003): reading, tag
schemes, sub-token features and mapping predictions back to words.

Files hold one token per line with its tag in the last column, a blank line between
sentences, and ``-DOCSTART-`` lines between documents (skipped). Tags are BIO (IOB2;
the original IOB1 files read the same way) or IOBES; :func:`convert` moves between
them through the chunks conlleval sees, so any tag sequence converts.

Features follow BERT's NER setup (Devlin et al. 2019, section 5.3): each word is
tokenized alone, its label sits on its first sub-token and the other sub-tokens get
weight 0 in the loss; a prediction is read at the first sub-token. A sentence with
more than ``seq_length - 2`` sub-tokens is split into consecutive windows at word
boundaries (no overlap), or refused with ``split_long=False``.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf

from tfmodels.errors import DataError
from tfmodels.tasks import batching
from tfmodels.text_files import read_lines

SCHEMES = ("BIO", "IOBES")
# File names of the CoNLL-2003 distribution; the dev split also goes by dev.txt.
SPLIT_FILES = {"train": ("train.txt",), "dev": ("valid.txt", "dev.txt"), "test": ("test.txt",)}


@dataclasses.dataclass
class Sentence:
    words: List[str]
    tags: Optional[List[str]]  # None for unlabelled input
    lines: List[int]  # 1-based line number of each word, for error messages


def find_split(data_dir, split):
    """The path of ``split`` (train, dev or test) in ``data_dir``."""
    names = SPLIT_FILES[split]
    for name in names:
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    tried = " or ".join(os.path.join(data_dir, n) for n in names)
    raise DataError(f"{split} file not found: {tried}")


def read_conll(path, labelled=True):
    """Sentences of a CoNLL file; every token line has as many columns as the first
    (at least 2 when ``labelled``; the tag is the last)."""
    if not os.path.isfile(path):
        raise DataError(f"file not found: {path}")
    sentences, words, tags, lines, columns = [], [], [], [], None

    def flush():
        if words:
            sentences.append(Sentence(list(words), list(tags) if labelled else None, list(lines)))
            for items in (words, tags, lines):
                items.clear()

    for number, line in enumerate(read_lines(path), 1):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if columns is None:
            columns = len(fields)
            if labelled and columns < 2:
                raise DataError(f"{path}:{number}: expected a token and its tag, got 1 column")
        elif len(fields) != columns:
            raise DataError(
                f"{path}:{number}: expected {columns} columns (as the first "
                f"token line), got {len(fields)}"
            )
        words.append(fields[0])
        tags.append(fields[-1])
        lines.append(number)
    flush()
    if not sentences:
        raise DataError(f"{path}: no sentences (the file is empty or holds only -DOCSTART-)")
    return sentences


# --- tag schemes -------------------------------------------------------------------


def _split(tag):
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    if prefix not in ("B", "I", "E", "S") or not kind:
        raise DataError(f"tag {tag!r} is not O or B-/I-/E-/S- followed by a type")
    return prefix, kind


def chunks(tags):
    """``[(type, first, last)]`` of a tag sequence, with conlleval's rules for where a
    chunk starts and ends (so I-X after O starts a chunk; B-X after I-X starts another)."""
    found, start, previous = [], None, ("O", "")
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = _split(tag)
        p_prefix, p_kind = previous
        ends = p_prefix in ("E", "S") or (
            p_prefix in ("B", "I") and (prefix in ("B", "S", "O") or kind != p_kind)
        )
        if start is not None and ends:
            found.append((p_kind, start, i - 1))
            start = None
        begins = prefix in ("B", "S") or (
            prefix in ("I", "E") and (p_prefix in ("E", "S", "O") or kind != p_kind)
        )
        if begins:
            start = i
        previous = (prefix, kind)
    return found


def encode(spans, length, scheme):
    """Tags of ``length`` words holding chunks ``spans`` in ``scheme``."""
    tags = ["O"] * length
    for kind, first, last in spans:
        if scheme == "IOBES" and first == last:
            tags[first] = f"S-{kind}"
            continue
        tags[first] = f"B-{kind}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{kind}"
        if scheme == "IOBES":
            tags[last] = f"E-{kind}"
    return tags


def convert(tags, scheme):
    """``tags`` (BIO, IOB1 or IOBES) in ``scheme``; BIO <-> IOBES round-trips exactly."""
    if scheme not in SCHEMES:
        raise DataError(f"unknown tag scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    return encode(chunks(tags), len(tags), scheme)


def detect_scheme(sentences):
    """IOBES if any tag starts with E- or S-, else BIO."""
    iobes = any(t[:2] in ("E-", "S-") for s in sentences for t in s.tags)
    return "IOBES" if iobes else "BIO"


def convert_sentences(sentences, scheme, path):
    """Copies of ``sentences`` with tags in ``scheme``; a malformed tag names file:line."""
    out = []
    for s in sentences:
        try:
            tags = convert(s.tags, scheme)
        except DataError as e:
            bad = next(i for i, t in enumerate(s.tags) if not _is_tag(t))
            raise DataError(f"{path}:{s.lines[bad]}: {e}") from None
        out.append(Sentence(s.words, tags, s.lines))
    return out


def _is_tag(tag):
    try:
        _split(tag)
        return True
    except DataError:
        return False


def label_set(sentences):
    """``O`` then the tags seen, ordered by type and then B, I, E, S."""
    seen = {t for s in sentences for t in s.tags} - {"O"}
    return ["O"] + sorted(seen, key=lambda t: (t[2:], "BIES".index(t[0])))


def label_ids(sentences, labels, path):
    """Per sentence, the label index of every word; an unknown tag names file:line."""
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for s in sentences:
        for tag, line in zip(s.tags, s.lines):
            if tag not in index:
                raise DataError(
                    f"{path}:{line}: tag {tag!r} is not in the label set from "
                    f"train ({', '.join(labels)})"
                )
        out.append([index[t] for t in s.tags])
    return out


# --- sub-token features ------------------------------------------------------------


@dataclasses.dataclass
class Features:
    """One row per window. ``windows[r] = (sentence, first word, positions)``:
    window r holds words ``first .. first + len(positions) - 1`` of ``sentence``, the
    first sub-token of each at ``positions``."""

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    labels: np.ndarray  # int32 [N, S]: the word's label at its first sub-token, else 0
    weights: np.ndarray  # float32 [N, S]: 1 at first sub-tokens of labelled words
    windows: list
    num_words: List[int]  # per sentence
    truncated_words: int  # words with more than seq_length - 2 sub-tokens (cut)

    def model_inputs(self):
        return {
            "input_ids": self.input_ids,
            "input_mask": self.input_mask,
            "segment_ids": self.segment_ids,
        }


def word_pieces(sentences, preprocessor):
    """Sub-token ids of every word of every sentence (each word tokenized alone, in one
    batched call). A word that tokenizes to nothing (e.g. only control characters)
    becomes the unknown token, so every word keeps a position."""
    tokenizer = preprocessor.tokenizer
    words = [w for s in sentences for w in s.words]
    if getattr(tokenizer, "add_prefix_space", None) is not None:
        words = [" " + w for w in words]  # byte-level BPE: a word inside a sentence
    ragged = tokenizer(tf.constant(words))
    flat, splits = ragged.flat_values.numpy(), ragged.row_splits.numpy()
    unknown = _unknown_id(tokenizer)
    pieces = [flat[splits[i] : splits[i + 1]].tolist() or [unknown] for i in range(len(words))]
    out, start = [], 0
    for s in sentences:
        out.append(pieces[start : start + len(s.words)])
        start += len(s.words)
    return out


def _unknown_id(tokenizer):
    for token in (getattr(tokenizer, "unknown_token", None), "[UNK]", "<unk>"):
        if token is None:
            continue
        try:
            return tokenizer.token_to_id(token)
        except (ValueError, KeyError, AttributeError):
            continue
    return 0


def make_features(sentences, preprocessor, word_labels=None, split_long=True, path="input"):
    """Windows of ``[CLS] pieces.. [SEP]`` (the preprocessor's special tokens and
    padding), labels on first sub-tokens. ``word_labels``: from :func:`label_ids`."""
    packer = preprocessor.packer
    seq_length = preprocessor.seq_length
    budget = seq_length - 2
    pieces = word_pieces(sentences, preprocessor)
    rows, windows, truncated = [], [], 0
    for n, words in enumerate(pieces):
        if not split_long and sum(len(p) for p in words) > budget:
            raise DataError(
                f"{path}:{sentences[n].lines[0]}: the sentence has "
                f"{sum(len(p) for p in words)} sub-tokens, more than seq_length - 2 "
                f"= {budget}; set tagging.split_long=true to split it into windows"
            )
        first = 0
        while first < len(words):
            ids, positions, last = [], [], first
            while last < len(words) and (not ids or len(ids) + len(words[last]) <= budget):
                word = words[last]
                if len(word) > budget:
                    truncated += 1
                    word = word[:budget]
                positions.append(len(ids) + 1)
                ids.extend(word)
                last += 1
            rows.append(ids)
            windows.append((n, first, positions))
            first = last
    count = len(rows)
    input_ids = np.full((count, seq_length), packer.pad_id, np.int32)
    input_mask = np.zeros((count, seq_length), np.int32)
    labels = np.zeros((count, seq_length), np.int32)
    weights = np.zeros((count, seq_length), np.float32)
    for r, ((n, first, positions), ids) in enumerate(zip(windows, rows)):
        input_ids[r, : len(ids) + 2] = [packer.start_id, *ids, packer.end_id]
        input_mask[r, : len(ids) + 2] = 1
        if word_labels is not None:
            labels[r, positions] = word_labels[n][first : first + len(positions)]
            weights[r, positions] = 1.0
    return Features(
        input_ids,
        input_mask,
        np.zeros_like(input_ids),
        labels,
        weights,
        windows,
        [len(s.words) for s in sentences],
        truncated,
    )


def words_from_rows(values, features):
    """Per sentence, the row values at each word's first sub-token, the windows put back
    together. ``values[r]``: row r's values by position (e.g. argmax label ids), as long
    as the row's batch was cut (:func:`make_dataset`) or longer."""
    out = [[None] * n for n in features.num_words]
    for r, (n, first, positions) in enumerate(features.windows):
        out[n][first : first + len(positions)] = np.asarray(values[r])[positions].tolist()
    return out


def make_dataset(features, batch_size, training=False, seed=0, shuffle_buffer=10000):
    """``(features, labels, weights)`` batches, each cut to its longest window; training
    data is shuffled, repeated and bucketed (:func:`batching.bucketed_batches`), otherwise
    it keeps its order."""
    ds = tf.data.Dataset.from_tensor_slices(
        (features.model_inputs(), features.labels, features.weights)
    )
    if not training:
        return ds.batch(batch_size).map(cut_batch).prefetch(tf.data.AUTOTUNE)
    return batching.training_batches(
        ds,
        len(features.labels),
        batch_size,
        lambda inputs, labels, weights: batching.mask_lengths(inputs["input_mask"]),
        cut_batch,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
    )


def cut_batch(inputs, labels, weights):
    """A batch with its per-token labels and weights cut with the features, to the
    longest window (labels sit on real tokens, so none is lost)."""
    return batching.cut_to_longest(
        (inputs, labels, weights), batching.mask_lengths(inputs["input_mask"])
    )


def loss_fn(model, batch, training):
    """Cross-entropy over first sub-tokens (weight 1), and their accuracy."""
    return outputs_loss(model(batch[0], training=training), batch)


def outputs_loss(outputs, batch):
    """:func:`loss_fn` from the model's outputs on ``batch = (features, labels, weights)``."""
    return token_loss(outputs["logits"], batch[1], batch[2])


def token_loss(logits, labels, weights):
    logits = tf.cast(logits, tf.float32)
    weights = tf.cast(weights, tf.float32)
    total = tf.maximum(tf.reduce_sum(weights), 1.0)
    loss = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    correct = tf.cast(
        tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32)), tf.float32
    )
    return (
        tf.reduce_sum(loss * weights) / total,
        {"accuracy": tf.reduce_sum(correct * weights) / total},
    )


def entity_metrics(gold, predicted):
    """conlleval's entity-level precision, recall and F1 (micro over types), token
    accuracy, ``f1_<TYPE>`` and ``per_type`` (precision, recall, F1, gold count), as
    ``seqeval`` computes them in its default (conlleval) mode. ``gold``/``predicted``:
    per sentence, tag lists in one scheme; a type only predicted has support 0."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    tokens = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, predicted) for a, b in zip(g, p))
    results = {
        "precision": float(precision_score(gold, predicted, zero_division=0)),
        "recall": float(recall_score(gold, predicted, zero_division=0)),
        "f1": float(f1_score(gold, predicted, zero_division=0)),
        "accuracy": correct / max(tokens, 1),
    }
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {
        kind: {
            "precision": float(scores["precision"]),
            "recall": float(scores["recall"]),
            "f1": float(scores["f1-score"]),
            "support": int(scores["support"]),
        }
        for kind, scores in report.items()
        if not kind.endswith(" avg")
    }
    results.update({f"f1_{kind}": scores["f1"] for kind, scores in per_type.items()})
    results["per_type"] = per_type
    return results
