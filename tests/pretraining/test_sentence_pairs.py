"""Next-sentence pairs: half random, true continuations are consecutive, lengths fit."""

import numpy as np

from tfmodels.pretraining.records import shuffled_instances


def test_pairs_are_half_random_and_fit_the_budget():
    rng = np.random.default_rng(0)
    # 40 documents of 12 sentences; a token records (document, sentence, position).
    documents = [[[f"d{d}s{s}t{t}" for t in range(6)] for s in range(12)] for d in range(40)]
    instances = shuffled_instances(documents, seq_length=40, dupe_factor=3, rng=rng)
    random_flags = [r for _, _, r in instances]
    assert abs(np.mean(random_flags) - 0.5) < 0.08
    for a, b, is_random in instances:
        assert len(a) + len(b) <= 40 - 3 and a and b
        doc_a = {t.split("s")[0] for t in a}
        doc_b = {t.split("s")[0] for t in b}
        assert len(doc_a) == 1
        if is_random:
            assert doc_a != doc_b
        else:
            assert doc_a == doc_b
            last_a = int(a[-1].split("s")[1].split("t")[0])
            first_b = int(b[0].split("s")[1].split("t")[0])
            assert first_b in (last_a, last_a + 1)  # B continues A (trimming may cut a sentence)
