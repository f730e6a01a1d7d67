"""A real topic-classification dataset from Debian's ``fortunes`` package.

Each fortune file under /usr/share/games/fortunes is one topic; entries are
separated by ``%`` lines. Entries are joined into one line, attribution lines
("-- Author") are dropped so the label cannot be read off a name, duplicates are
removed, and a fixed-seed stratified split is written as train/dev/test.tsv with a
``text<TAB>label`` header.
"""

import collections
import os
import re

import numpy as np

from tfmodels.atomic import atomic_write
from tfmodels.errors import DataError

FORTUNES_DIR = "/usr/share/games/fortunes"
DEFAULT_TOPICS = ("computers", "food", "law", "politics", "science", "sports")
_ATTRIBUTION = re.compile(r"^\s*(--|~~)\s")


def read_fortunes(path):
    entries, current = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.rstrip("\n") == "%":
                entries.append(current)
                current = []
            elif not _ATTRIBUTION.match(line):
                current.append(line.strip())
    entries.append(current)
    texts = [re.sub(r"\s+", " ", " ".join(e)).strip() for e in entries]
    return [t for t in texts if len(t) >= 20]


def build_fortunes_dataset(
    out_dir,
    topics=DEFAULT_TOPICS,
    max_per_topic=400,
    seed=13,
    fractions=(0.7, 0.15, 0.15),
    source_dir=FORTUNES_DIR,
):
    """Writes train/dev/test.tsv to ``out_dir``; returns the per-split label counts."""
    missing = [t for t in topics if not os.path.isfile(os.path.join(source_dir, t))]
    if missing:
        raise DataError(
            f"fortunes topics not found in {source_dir}: {', '.join(missing)} "
            "(install Debian's `fortunes` package)"
        )
    rng = np.random.default_rng(seed)
    seen, splits = set(), {"train": [], "dev": [], "test": []}
    for topic in topics:
        texts = []
        for text in read_fortunes(os.path.join(source_dir, topic)):
            key = re.sub(r"\W+", " ", text.lower()).strip()
            if key not in seen:
                seen.add(key)
                texts.append(text)
        order = rng.permutation(len(texts))[:max_per_topic]
        n_train = int(round(fractions[0] * len(order)))
        n_dev = int(round(fractions[1] * len(order)))
        for split, part in (
            ("train", order[:n_train]),
            ("dev", order[n_train : n_train + n_dev]),
            ("test", order[n_train + n_dev :]),
        ):
            splits[split] += [(texts[i].replace("\t", " "), topic) for i in part]
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for split, rows in splits.items():
        rows = [rows[i] for i in rng.permutation(len(rows))]
        path = os.path.join(out_dir, f"{split}.tsv")
        with atomic_write(path) as f:
            f.write("text\tlabel\n")
            f.writelines(f"{text}\t{label}\n" for text, label in rows)
        counts[split] = dict(collections.Counter(label for _, label in rows))
    return counts
