"""Source -> target fine-tuning: data files, features, generation and metrics.

What run_seq2seq.py trains and scores, for three kinds of task:

- ``translation`` (Vaswani et al. 2017): BLEU, computed by ``sacrebleu`` on the
  detokenized output against the raw reference text;
- ``summarization`` (BART, Lewis et al. 2020, section 3.6): ROUGE-1/2/L F-measures
  from ``rouge-score`` (Porter stemming, as the CNN/DM numbers are reported) and BLEU;
- ``text2text`` (T5, Raffel et al. 2020, section 2.4): exact match of the generated
  string; GLUE tasks are rewritten into T5's prompts (appendix D) and keep their
  own GLUE metric.

Data: ``{train,dev,test}.tsv`` (two columns, source then target, an optional header
line ``source<TAB>target``) or ``.jsonl`` (one JSON object a line with the
``source_key``/``target_key`` fields). A row that breaks these rules is a
DataError naming file and line.
"""

import dataclasses
import os
from typing import List

import numpy as np
import tensorflow as tf

from tfmodels.errors import DataError
from tfmodels.pretraining.seq2seq import IGNORE
from tfmodels.tasks import batching
from tfmodels.text_files import read_json_lines, read_table

KINDS = ("translation", "summarization", "text2text")


@dataclasses.dataclass
class Pairs:
    path: str
    sources: List[str]
    targets: List[str]
    lines: List[int]

    def __len__(self):
        return len(self.sources)


def find_split(data_dir, split):
    """``data_dir/{split}.tsv`` or ``.jsonl`` (``dev`` may be ``valid``/``validation``)."""
    stems = {"dev": ("dev", "valid", "validation")}.get(split, (split,))
    for stem in stems:
        for ext in ("tsv", "jsonl"):
            path = os.path.join(data_dir, f"{stem}.{ext}")
            if os.path.isfile(path):
                return path
    names = " or ".join(s + ".tsv/.jsonl" for s in stems)
    raise DataError(f"{data_dir}: no {split} file ({names})")


def read_pairs(path, source_key="source", target_key="target"):
    """The (source, target) pairs of a TSV or JSON Lines file (read by
    :mod:`tfmodels.text_files`: UTF-8, a BOM dropped, errors at file:line)."""
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    sources, targets, lines = [], [], []
    if path.endswith(".jsonl"):
        for line, row in read_json_lines(path):
            missing = [
                k
                for k in (source_key, target_key)
                if not isinstance(row, dict) or not isinstance(row.get(k), str)
            ]
            if missing:
                raise DataError(f"{path}:{line}: no text field {missing[0]!r}")
            sources.append(row[source_key])
            targets.append(row[target_key])
            lines.append(line)
    else:
        table = read_table(
            path,
            "\t",
            header=lambda row: row == [source_key, target_key],
            width=2,
            names=("source", "target"),
        )
        for line, row in zip(table.lines, table.rows):
            sources.append(row[0])
            targets.append(row[1])
            lines.append(line)
    return Pairs(path, sources, targets, lines)


# T5's GLUE prompts (Raffel et al. 2020, appendix D) and label words.
GLUE_PROMPTS = {
    "cola": ("cola sentence: {a}", ("unacceptable", "acceptable")),
    "sst2": ("sst2 sentence: {a}", ("negative", "positive")),
    "mrpc": ("mrpc sentence1: {a} sentence2: {b}", ("not_equivalent", "equivalent")),
    "qqp": ("qqp question1: {a} question2: {b}", ("not_duplicate", "duplicate")),
    "stsb": ("stsb sentence1: {a} sentence2: {b}", None),
    "mnli": ("mnli hypothesis: {b} premise: {a}", ("contradiction", "entailment", "neutral")),
    "qnli": ("qnli question: {a} sentence: {b}", ("entailment", "not_entailment")),
    "rte": ("rte sentence1: {a} sentence2: {b}", ("entailment", "not_entailment")),
    "wnli": ("wnli sentence1: {a} sentence2: {b}", ("not_entailment", "entailment")),
}


def stsb_word(score):
    """T5 writes STS-B scores rounded to the nearest 0.2 (appendix D)."""
    return f"{round(float(score) * 5) / 5:.1f}"


def glue_pairs(task_name, examples, path):
    """A GLUE split (:class:`tfmodels.tasks.glue.Examples`) as T5 text-to-text pairs."""
    template, words = GLUE_PROMPTS[task_name]
    sources = [
        template.format(a=a, b=b)
        for a, b in zip(examples.text_a, examples.text_b or [""] * len(examples))
    ]
    targets = [stsb_word(y) if words is None else words[int(y)] for y in examples.labels]
    return Pairs(path, sources, targets, list(range(2, len(sources) + 2)))


def glue_label(task_name, text):
    """A generated label word back to the GLUE label (class index or score; -1/NaN
    when the model wrote something else)."""
    words = GLUE_PROMPTS[task_name][1]
    text = text.strip()
    if words is None:
        try:
            return float(text)
        except ValueError:
            return float("nan")
    return words.index(text) if text in words else -1


@dataclasses.dataclass
class Encoding:
    """How one model family writes its targets.

    The family's preprocessor packs source and target alike (``[CLS] x [SEP]``,
    ``<s> x </s>``, ``x </s>``); ``target`` is the same preprocessor at
    ``target_length + 1``. A leading token equal to the decoder's start id is
    dropped from the labels, since the decoder input supplies it ([CLS] for the
    Transformer); BART keeps ``<s>`` after its ``</s>`` start, T5 starts from pad.
    """

    source: object
    target: object
    decoder_start_id: int

    def __post_init__(self):
        packer = self.source.packer
        self.pad_id, self.eos_id, self.start_id = packer.pad_id, packer.end_id, packer.start_id

    @staticmethod
    def _packed(preprocessor, texts):
        out = {k: [] for k in ("input_ids", "input_mask")}
        for start in range(0, len(texts), 256):
            features = preprocessor(tf.constant(texts[start : start + 256]))
            for key in out:
                out[key].append(features[key].numpy())
        return {k: np.concatenate(v) for k, v in out.items()}

    def source_features(self, sources):
        return self._packed(self.source, sources)

    def features(self, pairs):
        """Teacher-forcing features: source ids/mask, decoder inputs, labels (-100 pads)."""
        out = self.source_features(pairs.sources)
        target = self._packed(self.target, pairs.targets)
        ids, mask = target["input_ids"], target["input_mask"]
        if np.all(ids[:, 0] == self.decoder_start_id):
            ids, mask = ids[:, 1:], mask[:, 1:]
        else:
            ids, mask = ids[:, :-1], mask[:, :-1]
        labels = np.where(mask > 0, ids, IGNORE)
        start = np.full([len(ids), 1], self.decoder_start_id, ids.dtype)
        decoder_ids = np.concatenate([start, np.where(mask > 0, ids, self.pad_id)[:, :-1]], 1)
        out.update(
            decoder_input_ids=decoder_ids,
            decoder_input_mask=np.concatenate([np.ones_like(start), mask[:, :-1]], 1),
            labels=labels.astype(np.int32),
        )
        return out

    def decode(self, ids):
        """Generated ids -> text, stopping at the end token, without special tokens."""
        special = {self.pad_id, self.eos_id, self.start_id, self.decoder_start_id}
        tokenizer = self.source.tokenizer
        texts = []
        for row in np.asarray(ids):
            row = list(row)
            if self.eos_id in row:
                row = row[: row.index(self.eos_id)]
            texts.append(tokenizer.decode([int(i) for i in row if int(i) not in special]))
        return texts


TARGET_KEYS = ("decoder_input_ids", "decoder_input_mask", "labels")


def make_dataset(features, batch_size, training=False, seed=0, shuffle_buffer=10000):
    """Teacher-forcing batches (:meth:`Encoding.features`), source and target each cut to
    their own longest row; training data is shuffled, repeated and bucketed by source
    length (the encoder's cost; targets mostly follow their sources), otherwise it keeps
    its order."""
    ds = tf.data.Dataset.from_tensor_slices(features)
    if not training:
        return ds.batch(batch_size).map(cut_sides).prefetch(tf.data.AUTOTUNE)
    return batching.training_batches(
        ds,
        len(features["input_ids"]),
        batch_size,
        lambda batch: batching.mask_lengths(batch["input_mask"]),
        cut_sides,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
    )


def cut_sides(batch):
    """A batch with the source cut to its longest source and the target (decoder inputs,
    labels) to its longest target; labels past a target's end are ignored anyway."""
    target = {k: batch[k] for k in TARGET_KEYS}
    source = {k: v for k, v in batch.items() if k not in TARGET_KEYS}
    lengths = batching.mask_lengths(target["decoder_input_mask"])
    return {**cut_source(source), **batching.cut_to_longest(target, lengths)}


def cut_source(source):
    """Source features (``input_ids``, ``input_mask``) cut to the longest source."""
    return batching.cut_to_longest(source, batching.mask_lengths(source["input_mask"]))


def text_metrics(kind, predictions, references):
    """BLEU always (sacrebleu's corpus BLEU, 13a tokenization); ROUGE-1/2/L F1 x 100 for
    summarization; exact match (in %) for text2text."""
    import sacrebleu

    results = {"bleu": sacrebleu.corpus_bleu(predictions, [references]).score}
    if kind == "summarization":
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
        scores = [scorer.score(ref, pred) for ref, pred in zip(references, predictions)]
        for name in ("rouge1", "rouge2", "rougeL"):
            results[name] = 100.0 * float(np.mean([s[name].fmeasure for s in scores]))
    if kind == "text2text":
        results["exact_match"] = 100.0 * float(
            np.mean([p.strip() == r.strip() for p, r in zip(predictions, references)])
        )
    return results
