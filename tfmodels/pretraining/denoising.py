"""BART's noising functions (Lewis et al. 2020, section 2.2) and its pre-training records.

Five ways to corrupt a document, each a function of a token list (ids or strings):
token masking (random tokens -> ``<mask>``), token deletion, text infilling (spans
with Poisson(3) lengths, each replaced by ONE ``<mask>``; a 0-length span inserts a
``<mask>``), sentence permutation and document rotation. BART's final model (section
5.1) combines text infilling, masking 30% of the tokens, with sentence permutation:
:func:`denoising_examples`. The decoder reconstructs the original document.

Span placement: fairseq draws span starts independently, so spans may overlap and
merge; here the spans (0-length ones included) take distinct gaps between the kept
tokens, so every span keeps its own ``<mask>`` and the measured span lengths are the
drawn ones. Spans are over tokens, not whole words (fairseq's ``mask_whole_word``).
"""

import numpy as np

from tfmodels.errors import ConfigError
from tfmodels.pretraining.seq2seq import seq2seq_example, seq2seq_features

MASK_RATIO = 0.3
POISSON_LAMBDA = 3.0


def _check_ratio(ratio, name):
    if not 0 <= ratio <= 1:
        raise ConfigError(f"BART noising: {name} must be in [0, 1], got {ratio}")


def _chosen(length, ratio, rng):
    """A boolean mask with round(length * ratio) positions chosen uniformly."""
    chosen = np.zeros(length, bool)
    chosen[rng.choice(length, int(round(length * ratio)), replace=False)] = True
    return chosen


def token_masking(tokens, rng, mask_token, ratio=MASK_RATIO):
    """Random tokens replaced by ``mask_token`` (BERT-style, section 2.2)."""
    _check_ratio(ratio, "ratio")
    chosen = _chosen(len(tokens), ratio, rng)
    return [mask_token if c else t for t, c in zip(tokens, chosen)]


def token_deletion(tokens, rng, ratio=MASK_RATIO):
    """Random tokens deleted: the model must find where input is missing."""
    _check_ratio(ratio, "ratio")
    chosen = _chosen(len(tokens), ratio, rng)
    return [t for t, c in zip(tokens, chosen) if not c]


def infilling_spans(length, rng, ratio=MASK_RATIO, poisson_lambda=POISSON_LAMBDA):
    """Spans to infill in ``length`` tokens: sorted (start, span length) pairs.

    Lengths ~ Poisson(``poisson_lambda``) are drawn until they cover round(length *
    ratio) tokens, the last one cut to fit (as fairseq's ``add_whole_word_mask``).
    Each span takes its own gap between kept tokens; a 0-length span is an insertion
    point. Spans that find no free gap (very short inputs) are dropped.
    """
    _check_ratio(ratio, "mask_ratio")
    if poisson_lambda <= 0:
        raise ConfigError(f"BART text infilling: poisson_lambda must be > 0, got {poisson_lambda}")
    budget = int(round(length * ratio))
    lengths = []
    while sum(lengths) < budget:
        lengths.append(min(int(rng.poisson(poisson_lambda)), budget - sum(lengths)))
    kept = length - budget
    lengths = lengths[: kept + 1]  # one span per gap among the kept tokens
    gaps = np.sort(rng.choice(kept + 1, len(lengths), replace=False))
    spans, masked_before = [], 0
    for gap, span_length in zip(gaps, lengths):
        spans.append((int(gap) + masked_before, span_length))
        masked_before += span_length
    return spans


def text_infilling(
    tokens, rng, mask_token, ratio=MASK_RATIO, poisson_lambda=POISSON_LAMBDA, spans=None
):
    """Each span of :func:`infilling_spans` (or ``spans``) replaced by one ``mask_token``."""
    spans = infilling_spans(len(tokens), rng, ratio, poisson_lambda) if spans is None else spans
    output, position = [], 0
    for start, span_length in spans:
        output.extend(tokens[position:start])
        output.append(mask_token)
        position = start + span_length
    return output + list(tokens[position:])


def sentence_permutation(sentences, rng):
    """The sentences (a list of token lists) in a random order."""
    return [sentences[i] for i in rng.permutation(len(sentences))]


def document_rotation(tokens, rng):
    """The tokens rotated to start at a uniformly chosen token."""
    if not tokens:
        return list(tokens)
    start = int(rng.integers(len(tokens)))
    return list(tokens[start:]) + list(tokens[:start])


def sentence_blocks(documents, max_tokens):
    """Consecutive sentences of one document (a list of token lists), at most ``max_tokens``
    tokens a block; a longer sentence is cut into pieces (fairseq's ``complete_doc``)."""
    if max_tokens < 1:
        raise ConfigError("BART denoising: seq_length leaves no room between <s> and </s>")
    blocks = []
    for document in documents:
        block = []
        for sentence in document:
            for begin in range(0, len(sentence), max_tokens):
                piece = list(sentence[begin : begin + max_tokens])
                if sum(map(len, block)) + len(piece) > max_tokens:
                    blocks.append(block)
                    block = []
                block.append(piece)
        if block:
            blocks.append(block)
    return blocks


def denoising_examples(documents, vocab, options, rng):
    """The ``denoising`` objective's records (tfmodels.pretraining.registry): blocks of
    whole sentences, sentence-permuted then text-infilled (``options.mask_rate``, BART's
    0.3 when left at the 0.15 masked-LM default); input ``<s> noised </s>``, labels the
    original ``<s> block </s>``, decoder inputs ``</s>`` + labels[:-1] (BART starts its
    decoder with the eos id). ``dupe_factor`` passes, each with new noise."""
    ratio = MASK_RATIO if options.mask_rate == 0.15 else options.mask_rate
    bos, eos = vocab.ids[vocab.cls_token], vocab.ids[vocab.sep_token]
    pad, mask = vocab.ids[vocab.pad_token], vocab.ids[vocab.mask_token]
    seq_length = options.seq_length
    blocks = [
        [[vocab.ids[t] for t in s] for s in block]
        for block in sentence_blocks(documents, seq_length - 2)
    ]
    for _ in range(options.dupe_factor):
        for i in rng.permutation(len(blocks)):
            original = [t for s in blocks[i] for t in s]
            permuted = [t for s in sentence_permutation(blocks[i], rng) for t in s]
            noised = text_infilling(permuted, rng, mask, ratio)[: seq_length - 2]
            yield seq2seq_example(
                [bos, *noised, eos], [bos, *original, eos], seq_length, seq_length, pad, eos
            )


def denoising_features(seq_length, max_predictions=20):
    """The registry's ``extra_features`` hook: the targets are as long as the inputs."""
    del max_predictions
    return seq2seq_features(seq_length)
