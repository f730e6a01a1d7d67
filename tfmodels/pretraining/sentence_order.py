"""Sentence-order prediction (SOP) instances (Lan et al. 2020, section 3.1).

BERT's next-sentence task mixes topic prediction with coherence: a random B
usually comes from another topic, which is easy to spot. ALBERT's
"inter-sentence coherence loss" keeps both segments from the same document: a
positive is two consecutive segments in their order, a negative is the *same* two
segments swapped. Segments are filled from consecutive sentences up to the
target length as in :mod:`tfmodels.pretraining.sentence_pairs`, and split at a
random sentence boundary; an over-long pair is trimmed before the order is
decided, so a negative is exactly its positive reversed.

Instances are ``(tokens_a, tokens_b, is_swapped)``, the shape of the NSP
instances, so :func:`tfmodels.pretraining.records.encode_example` writes them
as they are: the label goes to ``next_sentence_labels`` (1 = swapped, HF's
``sentence_order_label``) and the sentence head is BERT's.
"""

from tfmodels.pretraining.sentence_pairs import _truncate_pair


def instances_from_document(documents, index, seq_length, rng, short_seq_prob=0.1, swap_prob=0.5):
    """Yields ``(tokens_a, tokens_b, is_swapped)`` for document ``index``.

    Exactly one ``rng.random()`` decides each order, whatever ``swap_prob`` is, so
    the same seed gives the same segments for any ``swap_prob``. A document needs
    two sentences for an instance: a last chunk of one sentence is dropped.
    """
    document = documents[index]
    max_tokens = seq_length - 3
    target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
    chunk, length = [], 0
    for i, sentence in enumerate(document):
        chunk.append(sentence)
        length += len(sentence)
        if (i < len(document) - 1 and length < target) or len(chunk) < 2:
            continue
        split = int(rng.integers(1, len(chunk)))
        a = [t for s in chunk[:split] for t in s]
        b = [t for s in chunk[split:] for t in s]
        _truncate_pair(a, b, max_tokens, rng)
        swapped = bool(rng.random() < swap_prob)
        yield (b, a, True) if swapped else (a, b, False)
        chunk, length = [], 0


def sentence_order_instances(
    documents, seq_length, dupe_factor, rng, short_seq_prob=0.1, swap_prob=0.5
):
    """All SOP instances of ``documents``, ``dupe_factor`` passes, shuffled."""
    instances = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(
                instances_from_document(
                    documents, index, seq_length, rng, short_seq_prob, swap_prob
                )
            )
    order = rng.permutation(len(instances))
    return [instances[i] for i in order]
