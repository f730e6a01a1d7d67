"""Span question answering on SQuAD v1.1 / v2.0: reading, windowing, features, decoding.

BERT (Devlin et al. 2019, section 4.2-4.3) packs ``[CLS] question [SEP] passage [SEP]``
and learns a start and an end distribution over the tokens. Passages longer than
the sequence are cut into windows ``doc_stride`` tokens apart; a token seen by
several windows is scored only in the one where it has the most context on both
sides ("max context"). A training window that does not hold the whole answer, and
a v2.0 question without an answer, point both targets at [CLS] (index 0). Decoding
takes the ``n_best_size`` best starts and ends of every window, keeps the spans
inside the passage, at most ``max_answer_length`` tokens long, and maps the best one
back to the original text through each token's character offsets. For v2.0 the
"null" score is ``start[0] + end[0]`` (lowest over the windows), and a question is
unanswered when ``null - best span`` exceeds a threshold tuned on dev (section 4.3).

Character offsets: WordPiece and byte-level BPE tokens get exact offsets into the
original passage (WordPiece through tf-text's ``tokenize_with_offsets`` on text
normalized one character at a time, so each normalized byte points back to its
character; byte-BPE tokens spell the passage's bytes exactly, so offsets are their
running byte lengths). SentencePiece's normalization (whitespace runs, ``''``,
NFKD) does not map character by character, so each piece gets the span of its
whitespace-separated word: answers there are whole words.
"""

import dataclasses
import os
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError, DataError
from tfmodels.tasks import batching, classification
from tfmodels.text_files import read_json


@dataclasses.dataclass
class SquadExample:
    qid: str
    question: str
    context: str
    answers: List[Tuple[str, int]]  # (text, answer_start); empty when unanswerable
    is_impossible: bool = False
    plausible_answers: List[Tuple[str, int]] = dataclasses.field(default_factory=list)
    source: str = ""  # file, for error messages


@dataclasses.dataclass
class SquadFeatures:
    """One row per window; ``token_start``/``token_end`` are character offsets of each
    position in the passage (-1 outside it)."""

    example_index: np.ndarray  # [N]
    input_ids: np.ndarray  # [N, S] int32
    input_mask: np.ndarray
    segment_ids: np.ndarray
    token_start: np.ndarray  # [N, S] int32
    token_end: np.ndarray
    max_context: np.ndarray  # [N, S] bool
    start_positions: np.ndarray  # [N] int32 (training targets; 0 = [CLS])
    end_positions: np.ndarray

    def __len__(self):
        return len(self.example_index)

    def inputs(self):
        return {
            "input_ids": self.input_ids,
            "input_mask": self.input_mask,
            "segment_ids": self.segment_ids,
        }


# ----------------------------------------------------------------------------- reading


def _field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        raise DataError(
            f"{where}: {key!r} must be a {getattr(kind, '__name__', kind)}, "
            f"got {type(value).__name__}"
        )
    return value


def _answers(qa, key, context, path, qid):
    answers = []
    for answer in qa.get(key, []) or []:
        text = _field(answer, "text", str, f"{path}: question {qid} {key}")
        start = _field(answer, "answer_start", int, f"{path}: question {qid} {key}")
        found = context[start : start + len(text)] if start >= 0 else None
        if found != text:
            raise DataError(
                f"{path}: question {qid}: answer {text!r} does not match the "
                f"context at answer_start {start} (found {found!r})"
            )
        answers.append((text, start))
    return answers


def read_squad(path):
    """``(examples, version_2)`` from an official SQuAD JSON file.

    ``version_2`` is true for a ``v2.*`` version field or any ``is_impossible`` question.
    Every answer must be the context's text at its ``answer_start``.
    """
    if not os.path.isfile(path):
        raise DataError(f"SQuAD file not found: {path}")
    data = read_json(path)
    examples, seen = [], set()
    version_2 = str(data.get("version", "")).startswith("v2") if isinstance(data, dict) else False
    for a, article in enumerate(_field(data, "data", list, path)):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, f"{path} data[{a}]")):
            where = f"{path} data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, where)
            for qa in _field(paragraph, "qas", list, where):
                qid = _field(qa, "id", str, f"{where}.qas")
                if qid in seen:
                    raise DataError(f"{path}: question id {qid} appears twice")
                seen.add(qid)
                impossible = bool(qa.get("is_impossible", False))
                version_2 |= impossible
                answers = _answers(qa, "answers", context, path, qid)
                if not impossible and not answers and "is_impossible" not in qa:
                    raise DataError(f"{path}: question {qid} has no answers")
                examples.append(
                    SquadExample(
                        qid,
                        _field(qa, "question", str, f"{path}: question {qid}"),
                        context,
                        [] if impossible else answers,
                        impossible,
                        _answers(qa, "plausible_answers", context, path, qid),
                        path,
                    )
                )
    if not examples:
        raise DataError(f"{path} holds no questions")
    return examples, version_2


def gold_answers(examples):
    """``{qid: [answer texts]}`` (empty for unanswerable) for :mod:`squad_metrics`."""
    return {e.qid: [text for text, _ in e.answers] for e in examples}


# ------------------------------------------------------------------ offsets per tokenizer


def _byte_to_char(pieces):
    """For a text given as per-character byte strings: the character of every byte."""
    lengths = np.fromiter((len(p) for p in pieces), np.int64, len(pieces))
    return np.repeat(np.arange(len(pieces)), lengths)


def _wordpiece_offsets(tokenizer, texts):
    from tfmodels.tokenizers.wordpiece import normalize_text

    chars = [c for text in texts for c in text]
    normalized = (
        normalize_text(tf.constant(chars, tf.string), tokenizer.lower_case).numpy()
        if chars
        else np.zeros([0], object)
    )
    rows, joined, maps, at = [], [], [], 0
    for text in texts:
        pieces = normalized[at : at + len(text)]
        at += len(text)
        joined.append(b"".join(pieces))
        maps.append(_byte_to_char(pieces))
    ids, starts, ends = tokenizer._tokenizer.tokenize_with_offsets(tf.constant(joined))
    ids, starts, ends = (x.merge_dims(-2, -1) for x in (ids, starts, ends))
    for i, char_of in enumerate(maps):
        s, e = starts[i].numpy(), ends[i].numpy()
        rows.append((ids[i].numpy().astype(np.int32), char_of[s], char_of[e - 1] + 1))
    return rows


def _byte_bpe_offsets(tokenizer, texts):
    ids = tokenizer(tf.constant(texts, tf.string))
    lengths = np.array([len(t) for t in tokenizer.vocab], np.int64)  # one symbol per byte
    has_unknown = tokenizer.unknown_token in tokenizer.vocab
    rows = []
    for i, text in enumerate(texts):
        row = ids[i].numpy()
        if has_unknown and (row == tokenizer._unknown_id).any():
            raise DataError(f"the byte-level BPE vocabulary cannot represent text {text[:60]!r}")
        ends = np.cumsum(lengths[row])
        char_of = _byte_to_char([c.encode("utf-8") for c in text])
        rows.append((row.astype(np.int32), char_of[ends - lengths[row]], char_of[ends - 1] + 1))
    return rows


def _word_offsets(tokenizer, texts):
    """Each token spans its whitespace-separated word (tokenizers without offsets)."""
    rows = []
    for text in texts:
        words, spans, start = [], [], None
        for i, ch in enumerate(text + " "):
            if ch.isspace():
                if start is not None:
                    words.append(text[start:i])
                    spans.append((start, i))
                start = None
            elif start is None:
                start = i
        if not words:
            rows.append((np.zeros([0], np.int32), np.zeros([0], int), np.zeros([0], int)))
            continue
        ids = tokenizer(tf.constant(words))
        counts = ids.row_lengths().numpy()
        spans = np.repeat(np.array(spans), counts, axis=0).reshape(-1, 2)
        rows.append((ids.flat_values.numpy().astype(np.int32), spans[:, 0], spans[:, 1]))
    return rows


def tokenize_with_offsets(tokenizer, texts):
    """``[(ids, start_chars, end_chars)]`` per text: token ids and each token's character
    span in the original text, leading/trailing whitespace trimmed."""
    from tfmodels.tokenizers.byte_bpe import ByteBPETokenizer
    from tfmodels.tokenizers.wordpiece import WordPieceTokenizer

    if isinstance(tokenizer, WordPieceTokenizer):
        rows = _wordpiece_offsets(tokenizer, texts)
    elif isinstance(tokenizer, ByteBPETokenizer):
        rows = _byte_bpe_offsets(tokenizer, texts)
    else:
        rows = _word_offsets(tokenizer, texts)
    trimmed = []
    for text, (ids, starts, ends) in zip(texts, rows):
        starts, ends = np.array(starts, np.int64), np.array(ends, np.int64)
        for k in range(len(ids)):
            while starts[k] < ends[k] - 1 and text[starts[k]].isspace():
                starts[k] += 1
            while ends[k] - 1 > starts[k] and text[ends[k] - 1].isspace():
                ends[k] -= 1
        trimmed.append((ids, starts, ends))
    return trimmed


# ---------------------------------------------------------------------------- windowing


def answer_token_span(starts, ends, answer_start, answer_end):
    """First and last token overlapping characters [answer_start, answer_end), or None."""
    inside = np.nonzero((ends > answer_start) & (starts < answer_end))[0]
    if not len(inside):
        return None
    return int(inside[0]), int(inside[-1])


def window_starts(num_tokens, max_tokens, doc_stride):
    """Start offsets of the windows over ``num_tokens`` passage tokens (BERT's loop)."""
    starts, start = [], 0
    while True:
        starts.append(start)
        if start + max_tokens >= num_tokens:
            return starts
        start += min(max_tokens, doc_stride)


def _max_context(windows, num_tokens, max_tokens):
    """For each passage token, the window where ``min(left, right) + 0.01 * length`` is best."""
    best = np.full(num_tokens, -1)
    score = np.full(num_tokens, -np.inf)
    for w, start in enumerate(windows):
        length = min(max_tokens, num_tokens - start)
        pos = np.arange(start, start + length)
        s = np.minimum(pos - start, start + length - 1 - pos) + 0.01 * length
        better = s > score[pos]
        score[pos[better]], best[pos[better]] = s[better], w
    return best


def convert_examples(examples, preprocessor, max_seq_length, doc_stride=128, max_query_length=64):
    """Windows of every example as :class:`SquadFeatures`, with training targets."""
    packer, tokenizer = preprocessor.packer, preprocessor.tokenizer
    roberta = packer.style == "roberta"
    separators = 2 if roberta else 1  # </s></s> between question and passage
    questions = tokenizer(tf.constant([e.question for e in examples], tf.string))
    contexts = sorted({e.context for e in examples})
    tokenized = {}
    for i in range(0, len(contexts), 64):
        chunk = contexts[i : i + 64]
        tokenized.update(zip(chunk, tokenize_with_offsets(tokenizer, chunk)))
    columns = {
        k: []
        for k in (
            "example_index",
            "input_ids",
            "segment_ids",
            "token_start",
            "token_end",
            "max_context",
            "start_positions",
            "end_positions",
        )
    }
    for index, example in enumerate(examples):
        query = questions[index].numpy()[:max_query_length]
        ids, starts, ends = tokenized[example.context]
        if not len(ids):
            raise DataError(
                f"{example.source}: question {example.qid}: the tokenizer makes no "
                "tokens of its passage"
            )
        offset = len(query) + 1 + separators
        max_tokens = max_seq_length - offset - 1
        if max_tokens < 1:
            raise ConfigError(
                f"max_seq_length {max_seq_length} leaves no room for the passage "
                f"after a {len(query)}-token question (max_query_length)"
            )
        target = None
        if example.answers:
            text, begin = example.answers[0]
            target = answer_token_span(starts, ends, begin, begin + len(text))
            if target is None:
                raise DataError(
                    f"{example.source}: question {example.qid}: the tokenizer "
                    f"cannot represent the answer {text!r}"
                )
        windows = window_starts(len(ids), max_tokens, doc_stride)
        best = _max_context(windows, len(ids), max_tokens)
        for w, start in enumerate(windows):
            length = min(max_tokens, len(ids) - start)
            doc = slice(start, start + length)
            row = np.full(max_seq_length, packer.pad_id, np.int32)
            pieces = [
                [packer.start_id],
                query,
                [packer.end_id] * separators,
                ids[doc],
                [packer.end_id],
            ]
            packed = np.concatenate([np.asarray(p, np.int32) for p in pieces])
            row[: len(packed)] = packed
            segments = np.zeros(max_seq_length, np.int32)
            if not roberta:
                segments[offset : len(packed)] = 1
            token_start = np.full(max_seq_length, -1, np.int32)
            token_end = np.full(max_seq_length, -1, np.int32)
            token_start[offset : offset + length] = starts[doc]
            token_end[offset : offset + length] = ends[doc]
            context_flags = np.zeros(max_seq_length, bool)
            context_flags[offset : offset + length] = best[doc] == w
            s = e = 0
            if target and start <= target[0] and target[1] < start + length:
                s, e = target[0] - start + offset, target[1] - start + offset
            for key, value in (
                ("example_index", index),
                ("input_ids", row),
                ("segment_ids", segments),
                ("token_start", token_start),
                ("token_end", token_end),
                ("max_context", context_flags),
                ("start_positions", s),
                ("end_positions", e),
            ):
                columns[key].append(value)
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    arrays["input_mask"] = (arrays["input_ids"] != packer.pad_id).astype(np.int32)
    for key in ("start_positions", "end_positions", "example_index"):
        arrays[key] = arrays[key].astype(np.int32)
    return SquadFeatures(**arrays)


# --------------------------------------------------------------------- training, decoding


def make_dataset(features, batch_size, training=False, seed=0, shuffle_buffer=10000):
    """``(inputs, (start, end))`` batches for training (shuffled, repeated and bucketed,
    :func:`batching.bucketed_batches`), else inputs in order;
    each batch is cut to its longest window. The targets index real tokens of their
    window ([CLS] for no answer), so they stay inside the cut."""
    if not training:
        return input_batches(features.inputs(), batch_size)
    ds = tf.data.Dataset.from_tensor_slices(
        (features.inputs(), (features.start_positions, features.end_positions))
    )
    return batching.training_batches(
        ds,
        len(features),
        batch_size,
        lambda inputs, targets: batching.mask_lengths(inputs["input_mask"]),
        classification.cut_features,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
    )


def input_batches(inputs, batch_size):
    """Batches of ``inputs`` (a dict of [N, S] arrays) in order, each cut to its longest
    window."""
    ds = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
    return ds.map(classification.cut_features)


def loss_fn(model, batch, training):
    """Mean of the start and end cross-entropies (section 4.2)."""
    return outputs_loss(model(batch[0], training=training), batch)


def outputs_loss(out, batch):
    """:func:`loss_fn` from the model's outputs on ``batch = (features, (starts, ends))``."""
    starts, ends = batch[1]
    losses = [
        tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(
                positions, tf.cast(out[key], tf.float32), from_logits=True
            )
        )
        for key, positions in (("start_logits", starts), ("end_logits", ends))
    ]
    return (losses[0] + losses[1]) / 2, {}


def predict_logits(model, features, batch_size):
    """``(start_logits, end_logits)`` [N, S] numpy for every window, computed on windows
    sorted by length in batches cut to their longest; positions past a batch's cut
    get :data:`PAD_LOGIT`, so they never rank among the n best."""
    step = batching.for_any_batch_shape(
        lambda x: {
            k: tf.cast(v, tf.float32)
            for k, v in model(x, training=False).items()
            if k in ("start_logits", "end_logits")
        }
    )
    order = np.argsort(features.input_mask.sum(1), kind="stable")
    inputs = {k: v[order] for k, v in features.inputs().items()}
    starts, ends = [], []
    for batch in input_batches(inputs, batch_size):
        out = step(batch)
        starts.append(out["start_logits"].numpy())
        ends.append(out["end_logits"].numpy())
    width = features.input_ids.shape[1]
    return tuple(batching.in_order(_padded(rows, width), order) for rows in (starts, ends))


PAD_LOGIT = -1e9  # the logit of a position past a batch's cut


def _padded(batches, width):
    """Batches of logits [B, W_b] as one [N, width] array, padded with PAD_LOGIT."""
    return np.concatenate(
        [np.pad(b, [(0, 0), (0, width - b.shape[1])], constant_values=PAD_LOGIT) for b in batches]
    )


NO_SPAN_ODDS = 1e9  # null odds of a question with no valid span at all


def decode(examples, features, start_logits, end_logits, n_best_size=20, max_answer_length=30):
    """``(answers, null_odds)``: the best span's text per question (``{qid: text}``, never
    empty unless no span is valid) and ``null score - best span score``."""
    by_example = {}
    for row, index in enumerate(features.example_index):
        by_example.setdefault(int(index), []).append(row)
    answers, null_odds = {}, {}
    for index, example in enumerate(examples):
        null, best, best_span = np.inf, -np.inf, None
        for row in by_example.get(index, []):
            s, e = start_logits[row], end_logits[row]
            null = min(null, float(s[0] + e[0]))
            token_start, token_end = features.token_start[row], features.token_end[row]
            top_s = np.argsort(-s)[:n_best_size]
            top_e = np.argsort(-e)[:n_best_size]
            for i in top_s:
                if token_start[i] < 0 or not features.max_context[row, i]:
                    continue
                for j in top_e:
                    if token_start[j] < 0 or j < i or j - i + 1 > max_answer_length:
                        continue
                    score = float(s[i] + e[j])
                    if score > best:
                        best, best_span = score, (int(token_start[i]), int(token_end[j]))
        answers[example.qid] = example.context[best_span[0] : best_span[1]] if best_span else ""
        null_odds[example.qid] = null - best if best_span else NO_SPAN_ODDS
    return answers, null_odds


def apply_threshold(answers, null_odds, threshold):
    """v2.0 predictions: no answer (``""``) where the null odds exceed ``threshold``."""
    return {qid: "" if null_odds[qid] > threshold else text for qid, text in answers.items()}
