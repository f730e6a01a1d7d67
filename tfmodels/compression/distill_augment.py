"""TinyBERT's data augmentation for task distillation (Jiao et al. 2020, section 3.2, Algorithm 1).

Each single-piece word gets as candidates the ``K`` words a masked-LM BERT finds
most probable at its place (the word masked, the rest of the sentence as is);
each augmented sentence replaces every such word, with probability ``p``, by a
random candidate. ``N`` such sentences are made per example (the authors'
defaults: K = 15, p = 0.4, N = 30; duplicates are dropped, as in their code).

Not here: the paper takes the candidates of multi-piece words from GloVe
neighbours; no GloVe vectors ship with this library, so those words are kept.
Like the authors' code, only alphabetic words are replaced, only by whole
alphabetic vocabulary words, and only the first text of a pair is augmented.
"""

import numpy as np
import tensorflow as tf

from tfmodels.compression.distill import encoder_of
from tfmodels.errors import ConfigError
from tfmodels.tasks.glue import Examples
from tfmodels.tokenizers import normalize_text

MLM_ARCHITECTURES = ("BertForMaskedLM", "BertForPreTraining")


class MaskedLMAugmenter:
    """``augment(texts)`` -> for each text, the original followed by its variants.

    ``mlm_model`` has an ``mlm_head`` (BertForMaskedLM / BertForPreTraining);
    ``tokenizer`` is the :class:`WordPieceTokenizer` of its vocabulary.
    """

    def __init__(
        self,
        mlm_model,
        tokenizer,
        seq_length=128,
        candidates=15,
        prob=0.4,
        per_example=30,
        seed=0,
        batch_size=64,
    ):
        if not hasattr(mlm_model, "mlm_head"):
            raise ConfigError(
                "task.augment_mlm: the augmentation model needs a masked-LM "
                f"head ({' or '.join(MLM_ARCHITECTURES)})"
            )
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"task.augment_prob must be in [0, 1]; got {prob}")
        self.model, self.tokenizer = mlm_model, tokenizer
        self.seq_length, self.k, self.prob = seq_length, candidates, prob
        self.per_example, self.batch_size = per_example, batch_size
        self.rng = np.random.default_rng(seed)
        vocab = tokenizer.vocab
        self.cls_id, self.sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
        self.mask_id = vocab.index("[MASK]")
        self.words = np.asarray(vocab, dtype=object)
        # Whole alphabetic words only: no "##" pieces, [special] tokens or punctuation.
        self.allowed = tf.constant(
            [t.isalpha() for t in vocab] + [False] * (mlm_model.config.vocab_size - len(vocab))
        )
        self._top_k = tf.function(self._top_k_fn, reduce_retracing=True)

    def _top_k_fn(self, ids, mask, positions):
        features = {"input_ids": ids, "input_mask": mask, "segment_ids": tf.zeros_like(ids)}
        hidden = encoder_of(self.model)(features, training=False)["sequence_output"]
        hidden = tf.gather(hidden, positions[:, tf.newaxis], batch_dims=1)
        logits = tf.cast(self.model.mlm_head(hidden)[:, 0], tf.float32)
        logits = tf.where(self.allowed[tf.newaxis], logits, tf.float32.min)
        return tf.math.top_k(logits, self.k).indices

    def split_words(self, texts):
        """Per text: its normalised words and each word's WordPiece ids."""
        normalized = normalize_text(tf.constant(texts), self.tokenizer.lower_case)
        pieces, starts, ends = self.tokenizer._tokenizer.tokenize_with_offsets(normalized)
        out = []
        for text, ids, st, en in zip(
            normalized.numpy(), pieces.to_list(), starts.to_list(), ends.to_list()
        ):
            words = [text[s[0] : e[-1]].decode("utf-8", "replace") for s, e in zip(st, en)]
            out.append((words, ids))
        return out

    def candidates(self, words, pieces):
        """``{word index: [candidate words]}`` for the single-piece alphabetic words."""
        flat = [p for word in pieces for p in word]
        room = self.seq_length - 2
        ids = np.zeros([1, self.seq_length], np.int32)
        tokens = [self.cls_id] + flat[:room] + [self.sep_id]
        ids[0, : len(tokens)] = tokens
        mask = np.zeros_like(ids)
        mask[0, : len(tokens)] = 1
        rows, where, start = [], [], 1
        for index, (word, word_pieces) in enumerate(zip(words, pieces)):
            if len(word_pieces) == 1 and word.isalpha() and start <= room:
                rows.append(index)
                where.append(start)
            start += len(word_pieces)
        found = {}
        for begin in range(0, len(rows), self.batch_size):
            chunk = where[begin : begin + self.batch_size]
            batch_ids = np.repeat(ids, len(chunk), axis=0)
            batch_ids[np.arange(len(chunk)), chunk] = self.mask_id
            top = self._top_k(
                tf.constant(batch_ids),
                tf.constant(np.repeat(mask, len(chunk), 0)),
                tf.constant(chunk, tf.int32),
            ).numpy()
            for index, best in zip(rows[begin : begin + self.batch_size], top):
                found[index] = list(self.words[best])
        return found

    def augment_text(self, words, found):
        """The original sentence, then up to ``per_example`` distinct variants."""
        original = " ".join(words)
        sentences, seen = [original], {original}
        for _ in range(self.per_example):
            new = list(words)
            for index, options in found.items():
                choice = options[self.rng.integers(len(options))]
                if self.rng.random() < self.prob:
                    new[index] = choice
            sentence = " ".join(new)
            if sentence not in seen:
                seen.add(sentence)
                sentences.append(sentence)
        return sentences

    def augment(self, texts):
        return [
            self.augment_text(words, self.candidates(words, pieces))
            for words, pieces in self.split_words(list(texts))
        ]


def augment_examples(examples, augmenter, log=None):
    """Examples followed by their variants (``text_a`` augmented; pair and label copied)."""
    ids, text_a, text_b, labels = [], [], [], []
    for i in range(len(examples)):
        variants = augmenter.augment([examples.text_a[i]])[0]
        text_a += variants
        ids += [f"{examples.ids[i]}-{j}" for j in range(len(variants))]
        if examples.text_b is not None:
            text_b += [examples.text_b[i]] * len(variants)
        labels += [examples.labels[i]] * len(variants)
        if log and (i + 1) % 100 == 0:
            log(f"augmented {i + 1}/{len(examples)} examples")
    return Examples(
        ids,
        text_a,
        text_b if examples.text_b is not None else None,
        np.asarray(labels, examples.labels.dtype),
    )
