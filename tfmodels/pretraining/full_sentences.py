"""RoBERTa's FULL-SENTENCES inputs (Liu et al. 2019, section 4.2).

"Each input is packed with full sentences sampled contiguously from one or more
documents, such that the total length is at most 512 tokens. Inputs may cross
document boundaries. When we reach the end of one document, we begin sampling
sentences from the next document and add an extra separator token between
documents." No next-sentence prediction: the examples carry masked-LM targets
only, drawn anew each time they are read (dynamic masking, section 4.1).

Pipeline: documents (``sentence_pairs.read_documents``) -> :func:`pack_full_sentences`
-> :func:`write_full_sentence_records` (unmasked ids) -> ``records.pretraining_dataset``
with ``dynamic=...``, which masks every batch in ``tf.data``.
"""

import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.pretraining.records import _int_feature, _pad, write_shards


def pack_full_sentences(documents, max_length=512, start_id=0, end_id=2, separator_id=None):
    """Documents (lists of sentences, each a list of token ids) -> examples of ids.

    Each example is ``<s> sentences </s>``, at most ``max_length`` ids, sentences in
    corpus order and each used once; ``separator_id`` (default ``end_id``, as in
    RoBERTa) stands between the sentences of two documents in one example. A
    sentence longer than an example can hold is cut into consecutive pieces.
    """
    budget = max_length - 2
    if budget < 1:
        raise ConfigError(f"max_length {max_length} leaves no room between <s> and </s>")
    separator_id = end_id if separator_id is None else separator_id
    examples, current, new_document = [], [], False

    def close():
        if current:
            examples.append([start_id, *current, end_id])
            current.clear()

    for document in documents:
        new_document = bool(current)
        for sentence in document:
            for begin in range(0, len(sentence), budget):
                piece = list(sentence[begin : begin + budget])
                if len(current) + new_document + len(piece) > budget:
                    close()
                    new_document = False
                if new_document:
                    current.append(separator_id)
                    new_document = False
                current.extend(piece)
    close()
    return examples


def encode_example(ids, seq_length, pad_id=1):
    """One ``tf.train.Example`` of unmasked ids in the layout ``records`` reads.

    ``next_sentence_labels`` is a constant 0: RoBERTa has no sentence head, so the
    loss ignores it; it is there because the record layout has it.
    """
    if len(ids) > seq_length:
        raise ConfigError(f"an example of {len(ids)} tokens does not fit seq_length {seq_length}")
    padding = [pad_id] * (seq_length - len(ids))
    features = {
        "input_ids": _int_feature(list(ids) + padding),
        "input_mask": _int_feature(_pad([1] * len(ids), seq_length)),
        "segment_ids": _int_feature([0] * seq_length),
        "next_sentence_labels": _int_feature([0]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_full_sentence_records(
    documents, output_prefix, num_shards, seq_length=512, rng=None, start_id=0, end_id=2, pad_id=1
):
    """Packs ``documents`` and writes the examples as TFRecord shards (shuffled by
    ``rng`` when given); returns (paths, number of examples).

    Read them with ``records.pretraining_dataset(pattern, batch_size, seq_length,
    max_predictions, dynamic={"vocab_size", "mask_id", "special_ids", "mask_rate"})``.
    """
    examples = pack_full_sentences(documents, seq_length, start_id, end_id)
    if rng is not None:
        examples = [examples[i] for i in rng.permutation(len(examples))]
    return write_shards(
        (encode_example(e, seq_length, pad_id) for e in examples), output_prefix, num_shards
    )
