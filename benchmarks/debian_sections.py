"""A real short-text task that is not in the repository: the Debian archive section of a
package (games, science, sound, ...) from its one-line description.

The descriptions come from this machine's APT index (``apt-cache dumpavail``), so the
task is real text with real labels, built offline. Descriptions seen under two sections
or twice are dropped; the split is by a hash of the package name, so it is the same on
every machine with the same index.

    python benchmarks/debian_sections.py OUT_DIR   # writes train.tsv, dev.tsv, test.tsv
"""

import argparse
import collections
import hashlib
import os
import subprocess

SECTIONS = ("admin", "games", "graphics", "net", "science", "sound", "text", "utils")
PER_SECTION = {"train": 250, "dev": 50, "test": 50}


def read_index():
    """``[(package, section, description)]`` of the APT index."""
    text = subprocess.run(
        ["apt-cache", "dumpavail"], check=True, capture_output=True, text=True
    ).stdout
    packages = []
    for stanza in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if {"Package", "Section", "Description"} <= fields.keys():
            packages.append((fields["Package"], fields["Section"], fields["Description"].strip()))
    return packages


def split_of(package):
    """train, dev or test by a hash of the name (70/15/15 before the per-section caps)."""
    bucket = int(hashlib.sha256(package.encode()).hexdigest(), 16) % 20
    return "dev" if bucket < 3 else "test" if bucket < 6 else "train"


def build(out_dir):
    """Writes the task's TSV files (``text<TAB>label``); returns the row counts."""
    packages = read_index()
    sections_of = collections.defaultdict(set)
    for _, section, description in packages:
        sections_of[description.lower()].add(section)
    rows = {split: collections.defaultdict(list) for split in PER_SECTION}
    seen = set()
    for package, section, description in sorted(packages):
        key = description.lower()
        if section not in SECTIONS or len(sections_of[key]) > 1 or key in seen:
            continue
        seen.add(key)
        split = split_of(package)
        if len(rows[split][section]) < PER_SECTION[split]:
            rows[split][section].append(description.replace("\t", " "))
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for split, by_section in rows.items():
        with open(os.path.join(out_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("text\tlabel\n")
            for section in SECTIONS:
                for text in by_section[section]:
                    f.write(f"{text}\t{section}\n")
        counts[split] = sum(len(v) for v in by_section.values())
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    print(build(parser.parse_args().out_dir))
