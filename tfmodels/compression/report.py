"""The compression table (Markdown, CSV and a PNG chart) from measured rows.

One row per compressed variant; speedups and "% of teacher" are relative to the
``teacher`` row measured in the same run.
"""

import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tfmodels.atomic import atomic_path, atomic_write

COLUMNS = (
    ("method", "method", "{}"),
    ("params", "parameters", "{:,}"),
    ("nonzero_params", "non-zero", "{:,}"),
    ("file", "file", "{}"),
    ("file_mb", "MB", "{:.1f}"),
    ("gzip_mb", "gzip MB", "{:.1f}"),
    ("tf_ms", "TF ms", "{:.1f}"),
    ("tflite_ms", "TFLite ms", "{:.1f}"),
    ("speedup", "speedup", "{:.2f}x"),
    ("score", "test acc", "{:.4f}"),
    ("percent_of_teacher", "% of teacher", "{:.1f}"),
    ("note", "note", "{}"),
)


def with_relative_columns(rows):
    """Adds ``speedup`` (TFLite latency, else TF latency, vs the teacher) and
    ``percent_of_teacher``."""
    teacher = next((r for r in rows if r["method"] == "teacher"), None)
    out = []
    for row in rows:
        row = dict(row)
        if teacher:
            for key in ("tflite_ms", "tf_ms"):
                if row.get(key) and teacher.get(key):
                    row["speedup"] = teacher[key] / row[key]
                    break
            if row.get("score") is not None and teacher.get("score"):
                row["percent_of_teacher"] = 100 * row["score"] / teacher["score"]
        out.append(row)
    return out


def _cell(row, key, fmt):
    value = row.get(key)
    return "" if value is None else fmt.format(value)


def markdown(rows, title=""):
    lines = [f"## {title}", ""] if title else []
    lines.append("| " + " | ".join(header for _, header, _ in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for row in rows:
        lines.append("| " + " | ".join(_cell(row, k, f) for k, _, f in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_report(rows, output_dir, title="Compression table"):
    """Writes compression.md, compression.csv and compression.png; returns their paths."""
    rows = with_relative_columns(rows)
    os.makedirs(output_dir, exist_ok=True)
    md = os.path.join(output_dir, "compression.md")
    csv_path = os.path.join(output_dir, "compression.csv")
    png = os.path.join(output_dir, "compression.png")
    with atomic_write(md) as f:
        f.write(markdown(rows, title))
    with atomic_path(csv_path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k, _, _ in COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(png) as tmp:
        _chart(rows, tmp, title)
    return md, csv_path, png


def _chart(rows, path, title):
    """Accuracy against compressed size, one labelled point per method."""
    points = [r for r in rows if r.get("score") is not None and r.get("gzip_mb")]
    fig, ax = plt.subplots(figsize=(8, 5))
    for row in points:
        ax.scatter(row["gzip_mb"], row["score"])
        ax.annotate(
            row["method"],
            (row["gzip_mb"], row["score"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("gzip size (MB)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
