"""BERT pre-training examples from raw text: sentence pairs for next-sentence prediction.

Input files use BERT's layout: one sentence per line, a blank line between
documents. Following the original ``create_pretraining_data.py`` (Devlin et al.
2019, appendix A.2): segments of consecutive sentences fill ``seq_length``
(shorter with probability ``short_seq_prob``); B is the true continuation half of
the time and a random span of another document otherwise (a one-sentence chunk
waits for a second sentence rather than being forced to "random", so the split
stays 50/50); an over-long pair is
trimmed one token at a time from a random end of the longer segment.
"""

import os

from tfmodels.errors import DataError


def read_documents(paths, tokenize):
    """Documents as lists of tokenized sentences; ``tokenize(lines) -> list of token lists``."""
    documents = []
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"input file not found: {path}")
        current = []
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f]
        tokenized = tokenize([line for line in lines if line])
        it = iter(tokenized)
        for line in lines:
            if not line:
                if current:
                    documents.append(current)
                current = []
                continue
            tokens = next(it)
            if tokens:
                current.append(tokens)
        if current:
            documents.append(current)
    if not documents:
        raise DataError(f"no text in {', '.join(paths)}")
    return documents


def _truncate_pair(a, b, max_tokens, rng):
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def instances_from_document(
    documents, index, seq_length, rng, short_seq_prob=0.1, random_next_prob=0.5
):
    """Yields ``(tokens_a, tokens_b, is_random_next)`` for document ``index``."""
    document = documents[index]
    max_tokens = seq_length - 3
    target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
    chunk, length, i = [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        last = i == len(document) - 1
        if last or length >= target:
            random_next = len(documents) > 1 and rng.random() < random_next_prob
            if len(chunk) == 1 and not random_next:
                # A true continuation needs two sentences: keep filling the chunk
                # (the original forced "random" here, skewing the 50/50 balance).
                if not last:
                    i += 1
                    continue
                break
            split = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
            a = [t for sentence in chunk[:split] for t in sentence]
            if random_next:
                b = []
                other = index
                while other == index:
                    other = int(rng.integers(len(documents)))
                start = int(rng.integers(len(documents[other])))
                for sentence in documents[other][start:]:
                    b.extend(sentence)
                    if len(b) >= target - len(a):
                        break
                i -= len(chunk) - split  # the unused sentences go into the next chunk
            else:
                b = [t for sentence in chunk[split:] for t in sentence]
            if a and b:
                _truncate_pair(a, b, max_tokens, rng)
                yield a, b, random_next
            chunk, length = [], 0
        i += 1
