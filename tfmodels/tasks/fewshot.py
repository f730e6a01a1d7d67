"""GPT-3-style few-shot evaluation of a causal language model (Brown et al. 2020, section 2).

No gradient step: for each test item, ``k`` demonstrations (context and correct
completion) drawn at random from a demonstration set are written before the query's
context, one per line, and every candidate completion is scored by its
log-likelihood under the model given that prompt; the best-scoring candidate is the
prediction. ``k = 0`` is zero-shot (only an optional task description), ``k = 1``
one-shot, larger ``k`` few-shot. Section 2.4: candidates are compared by their summed
log-likelihood, or per token (``normalize="token"``) for tasks where answers differ
in length.

Input TSV (UTF-8, a header row, tab-separated, no quoting; read by
:func:`tfmodels.text_files.read_table`):

- ``context``: the text the completion continues (question, sentence, ...);
- ``choices``: the candidate completions separated by ``|`` (multiple choice); or
  leave the column out and give one label set for every row (classification:
  ``choices=["positive", "negative"]``, ``--choices=positive|negative``);
- ``label``: the correct completion's text, or else its 0-based index in ``choices``.

A prompt is ``description`` (if any), the demonstrations ``context + choice_prefix +
answer``, and the query's ``context``, joined by ``separator``; a candidate is
``choice_prefix + choice``, tokenized on its own and appended to the prompt's tokens.
A prompt that does not fit the model's context with the item's longest candidate
loses whole demonstrations from the left (the first ones) until it does, then, with
none left, tokens from the left of the query; both are counted in the results.
"""

import dataclasses
import json
import os
from typing import List

import numpy as np
import tensorflow as tf

from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError, DataError
from tfmodels.tasks import batching
from tfmodels.text_files import read_table

NORMALIZATIONS = ("none", "token")


@dataclasses.dataclass
class Item:
    context: str
    choices: List[str]
    label: int
    where: str = ""  # "file:N" (its line), for error messages


@dataclasses.dataclass
class PromptFormat:
    """How items become text (section 2, Figure 2.1's layout)."""

    separator: str = "\n"  # between demonstrations and before the query
    choice_prefix: str = " "  # between a context and its completion
    description: str = ""  # natural-language task description, the first line


# ----------------------------------------------------------------------------- reading


def _parse_label(value, choices, where):
    if value in choices:
        return choices.index(value)
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < len(choices):
        raise DataError(
            f"{where}: label {value!r} is neither one of the choices "
            f"({' | '.join(choices)}) nor an index into them"
        )
    return index


def read_items(path, choices=None, choice_separator="|"):
    """Items of a TSV in the format of this module's docstring.

    ``choices`` (a list) is the label set of a file without a ``choices`` column.
    """
    if not os.path.isfile(path):
        raise DataError(f"few-shot TSV not found: {path}")
    table = read_table(path, "\t")
    header = table.header
    missing = [c for c in ("context", "label") if c not in header]
    if missing:
        raise DataError(
            f"{path}:1: header lacks column(s) {', '.join(missing)} (got {', '.join(header)})"
        )
    if "choices" not in header and not choices:
        raise DataError(f"{path}: no 'choices' column and no label set given (--choices)")
    if "choices" in header and choices:
        raise ConfigError(f"{path} has a 'choices' column; do not also give --choices")
    items = []
    for number, fields in zip(table.lines, table.rows):
        where = f"{path}:{number}"
        row = dict(zip(header, fields))
        options = row["choices"].split(choice_separator) if "choices" in row else list(choices)
        if len(options) < 2 or any(not o.strip() for o in options):
            raise DataError(f"{where}: needs at least two non-empty choices, got {options!r}")
        if not row["context"].strip():
            raise DataError(f"{where}: empty context")
        items.append(
            Item(row["context"], options, _parse_label(row["label"], options, where), where)
        )
    return items


# ----------------------------------------------------------------------------- prompts


def format_prompt(query, demonstrations, fmt=PromptFormat()):
    """The prompt text of ``query`` after ``demonstrations`` (items shown with their answer)."""
    pieces = [fmt.description] if fmt.description else []
    pieces += [d.context + fmt.choice_prefix + d.choices[d.label] for d in demonstrations]
    return fmt.separator.join(pieces + [query.context])


def sample_demonstrations(pool, k, rng, exclude=None):
    """``k`` distinct items of ``pool`` in random order, never ``pool[exclude]`` (the query
    itself when demonstrations come from the evaluated file)."""
    size = len(pool) - (exclude is not None)
    if k > size:
        raise ConfigError(f"{k}-shot needs {k} demonstrations, the demonstration set has {size}")
    picks = rng.choice(size, k, replace=False)
    if exclude is not None:
        picks = np.where(picks >= exclude, picks + 1, picks)
    return [pool[i] for i in picks]


# ----------------------------------------------------------------------------- scoring


class Scorer:
    """Log-likelihoods of candidate token sequences under a causal LM.

    ``model`` maps ``{input_ids, input_mask}`` to ``{"logits": [B, S, V]}`` where the logits
    at position t predict token t + 1; ``tokenizer`` maps strings [B] to ragged ids
    (no special tokens). Sequences are sorted by length and scored ``batch_size`` at a
    time, right-padded to the longest of their batch rounded up to a multiple of
    :data:`batching.PAD_MULTIPLE` (:func:`batching.padded_length`): few distinct shapes.
    """

    def __init__(self, model, tokenizer, seq_length, batch_size=16):
        self.model, self.tokenizer = model, tokenizer
        self.seq_length, self.batch_size = seq_length, batch_size
        self._log_probs = tf.function(
            self._token_log_probs,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
            ],
        )
        # In a graph: byte-BPE's merge loop run eagerly costs ~0.5 s a call.
        self._tokenize = tf.function(tokenizer, input_signature=[tf.TensorSpec([None], tf.string)])

    def _token_log_probs(self, input_ids, input_mask):
        """[B, S-1]: log p(token t+1 | tokens <= t), from one forward pass."""
        logits = self.model({"input_ids": input_ids, "input_mask": input_mask}, training=False)[
            "logits"
        ]
        log_probs = tf.nn.log_softmax(tf.cast(logits[:, :-1], tf.float32))
        return tf.gather(log_probs, input_ids[:, 1:], batch_dims=2)

    def tokenize(self, texts, chunk=256):
        """Lists of token ids, one per text (each distinct text tokenized once)."""
        distinct = list(dict.fromkeys(texts))
        found = {}
        for start in range(0, len(distinct), chunk):
            part = distinct[start : start + chunk]
            ids = self._tokenize(tf.constant(part))
            if isinstance(ids, tf.RaggedTensor) and ids.ragged_rank > 1:
                ids = ids.merge_dims(-2, -1)
            found.update(zip(part, ([int(i) for i in row] for row in ids.to_list())))
        return [list(found[t]) for t in texts]

    def score(self, prompts, candidates):
        """Summed log-likelihood of each ``candidates[i]`` (ids) after ``prompts[i]`` (ids)."""
        lengths = [len(p) + len(c) for p, c in zip(prompts, candidates)]
        for i, (p, length) in enumerate(zip(prompts, lengths)):
            if not p or length > self.seq_length:
                raise ValueError(
                    f"sequence {i}: prompt of {len(p)} tokens + candidate must be "
                    f"1..{self.seq_length} tokens, got {length}"
                )
        order = np.argsort(lengths, kind="stable")
        scores = np.zeros(len(prompts), np.float64)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = int(batching.padded_length(max(lengths[i] for i in batch), self.seq_length))
            ids = np.zeros([len(batch), width], np.int32)
            mask = np.zeros_like(ids)
            scored = np.zeros([len(batch), width - 1], bool)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = prompts[i] + candidates[i]
                mask[row, : lengths[i]] = 1
                scored[row, len(prompts[i]) - 1 : lengths[i] - 1] = True  # predicts the candidate
            log_probs = self._log_probs(tf.constant(ids), tf.constant(mask)).numpy()
            scores[batch] = np.where(scored, log_probs, 0.0).sum(axis=1)
        return scores


# ----------------------------------------------------------------------------- evaluation


def _fit_prompts(scorer, items, demos, fmt, candidates):
    """Prompt ids per item, dropping demonstrations from the left until the prompt and its
    longest candidate fit; then ``(ids, demonstrations dropped, query tokens cut)``."""
    budget = [scorer.seq_length - max(len(c) for c in cands) for cands in candidates]
    ids = scorer.tokenize([format_prompt(q, d, fmt) for q, d in zip(items, demos)])
    dropped, cut = [0] * len(items), [0] * len(items)
    long = [i for i in range(len(items)) if len(ids[i]) > budget[i]]
    variants = [(i, j) for i in long for j in range(1, len(demos[i]) + 1)]
    variant_ids = (
        scorer.tokenize([format_prompt(items[i], demos[i][j:], fmt) for i, j in variants])
        if variants
        else []
    )
    tried = dict(zip(variants, variant_ids))
    for i in long:
        for j in range(1, len(demos[i]) + 1):
            ids[i], dropped[i] = tried[(i, j)], j
            if len(ids[i]) <= budget[i]:
                break
        if len(ids[i]) > budget[i]:
            cut[i] = len(ids[i]) - budget[i]
            ids[i] = ids[i][cut[i] :]
    for item, prompt in zip(items, ids):
        if not prompt:
            raise DataError(f"{item.where}: the prompt {item.context!r} has no tokens")
    return ids, dropped, cut


def score_items(scorer, items, demonstrations, fmt=PromptFormat(), normalize="none"):
    """Each item's candidate scores after its demonstrations (one list per item);
    returns ``(scores, demonstrations dropped, query tokens cut)`` per item."""
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"normalize {normalize!r}; known: {', '.join(NORMALIZATIONS)}")
    flat = scorer.tokenize([fmt.choice_prefix + c for item in items for c in item.choices])
    bounds = np.cumsum([0] + [len(item.choices) for item in items])
    candidates = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for item, cands in zip(items, candidates):
        for choice, ids in zip(item.choices, cands):
            if not ids or len(ids) >= scorer.seq_length:
                raise DataError(
                    f"{item.where}: choice {choice!r} is {len(ids)} tokens; it must "
                    f"leave room for a prompt in the model's {scorer.seq_length}"
                )
    prompts, dropped, cut = _fit_prompts(scorer, items, demonstrations, fmt, candidates)
    pairs = [(i, c) for i in range(len(items)) for c in candidates[i]]
    scores = scorer.score([prompts[i] for i, _ in pairs], [c for _, c in pairs])
    if normalize == "token":  # section 2.4: per-token likelihood
        scores = scores / np.array([len(c) for _, c in pairs])
    return [scores[a:b] for a, b in zip(bounds[:-1], bounds[1:])], dropped, cut


def evaluate(
    scorer, items, shots=(0, 1, 4), demo_pool=None, fmt=PromptFormat(), normalize="none", seed=0
):
    """Accuracy for each ``k`` in ``shots``: ``{k: {accuracy, correct, examples,
    prompts_with_dropped_demonstrations, queries_truncated}}``.

    Demonstrations come from ``demo_pool``, or else from ``items`` without the query;
    item i's draw for k is seeded by ``(seed, k, i)``.
    """
    pool = demo_pool if demo_pool is not None else items
    results = {}
    for k in shots:
        demos = [
            sample_demonstrations(
                pool,
                k,
                np.random.default_rng([seed, k, i]),
                exclude=None if demo_pool is not None else i,
            )
            for i in range(len(items))
        ]
        scores, dropped, cut = score_items(scorer, items, demos, fmt, normalize)
        correct = sum(int(np.argmax(s) == item.label) for s, item in zip(scores, items))
        results[k] = {
            "accuracy": correct / len(items),
            "correct": correct,
            "examples": len(items),
            "prompts_with_dropped_demonstrations": int(np.count_nonzero(dropped)),
            "queries_truncated": int(np.count_nonzero(cut)),
        }
    return results


def write_results(output_dir, results, **info):
    """``fewshot_results.json`` under ``output_dir`` (temp name, then rename)."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "fewshot_results.json")
    payload = dict(info, results={str(k): v for k, v in results.items()})
    with atomic_write(path) as f:
        json.dump(payload, f, indent=2)
    return path


def scorer_from_pretrained(path, seq_length=None, batch_size=16):
    """A :class:`Scorer` of a causal LM folder (HF layout with its tokenizer files);
    ``seq_length`` defaults to the model's context (``max_position_embeddings``)."""
    import tfmodels

    model = tfmodels.from_pretrained(path)
    outputs = model.output if isinstance(model.output, dict) else {}
    if "logits" not in outputs or outputs["logits"].shape.rank != 3:
        raise ConfigError(
            f"{path}: {type(model).__name__} is not a causal language model "
            "(few-shot scoring needs next-token logits [B, S, V])"
        )
    limit = getattr(model.config, "max_position_embeddings", None)
    seq_length = seq_length or limit
    if not seq_length or (limit and seq_length > limit):
        raise ConfigError(
            f"seq_length {seq_length} must be given and at most the model's "
            f"{limit} positions ({path})"
        )
    tokenizer = tfmodels.preprocessor_from_pretrained(path, seq_length).tokenizer
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ConfigError(
            f"{path}: the tokenizer has {tokenizer.vocab_size} tokens, the model "
            f"{model.config.vocab_size}"
        )
    return Scorer(model, tokenizer, seq_length, batch_size)
