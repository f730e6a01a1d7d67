"""Runs a TFLite file of several sequence lengths at the shortest one that fits.

A file written by ``tfmodels.export.tflite(model, path, seq_length=(32, 64, 128))``
holds the signatures ``serving_32``, ``serving_64`` and ``serving_128``, which share
the weights. :class:`LengthRunner` reads each signature's length from its
``input_ids`` shape (so it also takes a one-length file, ``serving_default``), pads a
text (or a batch of texts) to the shortest length that holds its longest row and runs
that signature::

    runner = tfmodels.export.tflite_runner("model.tflite", num_threads=2)
    runner([101, 7592, 102])["logits"]                  # one text: [num_labels]
    runner([[101, 7592, 102], [101, 2088, 2003, 102]])  # a batch: [2, num_labels]

Padding: ids 0, mask 0 and segments 0 past each row's end, as the preprocessor pads.
A signature without ``input_mask`` (``inputs=("input_ids",)``) attends to every
position, so it only takes rows that fill its length exactly. A signature with a fixed
batch size runs the rows in groups of that size (the last one padded with empty rows).
"""

import numpy as np

from tfmodels.errors import ConfigError, DataError


def _rows(values, name):
    """``values`` (one sequence of ints, or a batch of them) as a list of int32 rows
    and whether it was a batch."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return [np.asarray(row, np.int32) for row in values], True
    values = list(values)
    if not values:
        raise DataError(f"{name}: no token ids")
    batch = not np.isscalar(values[0]) and not (
        isinstance(values[0], np.ndarray) and values[0].ndim == 0
    )
    rows = [np.asarray(row, np.int32) for row in values] if batch else [np.asarray(values)]
    for row in rows:
        if row.ndim != 1:
            raise DataError(f"{name}: give the ids of one text or a list of texts' ids")
    if any(len(row) == 0 for row in rows):
        raise DataError(f"{name}: a row has no token ids")
    return [row.astype(np.int32) for row in rows], batch


class LengthRunner:
    """A TFLite file whose signatures differ in sequence length (see the module doc).

    ``lengths``: the signatures' lengths, shortest first; ``signatures``: length ->
    signature key.
    """

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        self._interpreter = Interpreter(model_path=path, num_threads=num_threads)
        self.signatures, self._runners = {}, {}
        for key in self._interpreter.get_signature_list():
            runner = self._interpreter.get_signature_runner(key)
            inputs = runner.get_input_details()
            if "input_ids" not in inputs:
                raise ConfigError(f"{path}: signature {key} has no input_ids")
            shape = inputs["input_ids"]["shape_signature"]
            length = int(shape[1])
            if length in self.signatures:
                raise ConfigError(
                    f"{path}: signatures {self.signatures[length]} and {key} both "
                    f"take length {length}"
                )
            self.signatures[length] = key
            self._runners[key] = (runner, set(inputs), int(shape[0]))
        if not self.signatures:
            raise ConfigError(f"{path}: the file has no signatures")
        self.lengths = tuple(sorted(self.signatures))
        self._sequence = self._sequence_outputs()

    def signature_for(self, length):
        """The key of the shortest signature that holds ``length`` tokens."""
        for n in self.lengths:
            if n >= length:
                return self.signatures[n]
        longest = self.lengths[-1]
        raise DataError(
            f"input of {length} tokens is longer than the longest signature of "
            f"{self.path} ({self.signatures[longest]}, {longest} tokens): truncate "
            "it, or export with a longer seq_length"
        )

    def __call__(self, input_ids, segment_ids=None):
        """Outputs for ``input_ids``: one text's ids (outputs without a batch axis) or
        a batch of texts' ids, rows of any lengths (outputs with a batch axis).
        ``segment_ids``: the same shape as ``input_ids`` (default 0).

        In a file of several lengths, outputs whose second axis is the signature's
        length (per-token outputs) are cut to the longest row, so they do not depend on
        the signature picked; a one-length file returns them at its length.
        """
        rows, batch = _rows(input_ids, "input_ids")
        if segment_ids is None:
            segments = [np.zeros_like(row) for row in rows]
        else:
            segments, _ = _rows(segment_ids, "segment_ids")
            if [len(s) for s in segments] != [len(r) for r in rows]:
                raise DataError("segment_ids: not the shape of input_ids")
        longest = max(len(row) for row in rows)
        key = self.signature_for(longest)
        runner, names, fixed_batch = self._runners[key]
        length = int(runner.get_input_details()["input_ids"]["shape_signature"][1])
        if "input_mask" not in names and any(len(row) != length for row in rows):
            raise ConfigError(
                f"{self.path}: signature {key} takes input_ids alone (its mask is all "
                f"ones), so rows must have exactly {length} ids; export with the mask "
                "(inputs=None) to run shorter texts"
            )
        features = {
            "input_ids": np.zeros((len(rows), length), np.int32),
            "input_mask": np.zeros((len(rows), length), np.int32),
            "segment_ids": np.zeros((len(rows), length), np.int32),
        }
        for i, (row, segment) in enumerate(zip(rows, segments)):
            features["input_ids"][i, : len(row)] = row
            features["input_mask"][i, : len(row)] = 1
            features["segment_ids"][i, : len(row)] = segment
        features = {k: v for k, v in features.items() if k in names}
        outputs = self._run(runner, features, fixed_batch)
        outputs = {k: v[:, :longest] if k in self._sequence else v for k, v in outputs.items()}
        return outputs if batch else {k: v[0] for k, v in outputs.items()}

    @staticmethod
    def _run(runner, features, fixed_batch):
        rows = len(features["input_ids"])
        if fixed_batch < 1:  # a dynamic batch dimension: one call
            return runner(**features)
        parts = []
        for start in range(0, rows, fixed_batch):
            group = {k: v[start : start + fixed_batch] for k, v in features.items()}
            missing = fixed_batch - len(group["input_ids"])
            group = {k: np.pad(v, [(0, missing), (0, 0)]) for k, v in group.items()}
            parts.append(runner(**group))
        return {k: np.concatenate([p[k] for p in parts])[:rows] for k in parts[0]}

    def _sequence_outputs(self):
        """The outputs whose second axis is the sequence: it equals the length in every
        signature. Only a file of several lengths tells them apart from, say, logits
        over as many labels as the one length, so a one-length file names none."""
        if len(self.lengths) < 2:
            return set()
        names = None
        for length, key in self.signatures.items():
            here = {
                name
                for name, d in self._runners[key][0].get_output_details().items()
                if len(d["shape_signature"]) >= 2 and int(d["shape_signature"][1]) == length
            }
            names = here if names is None else names & here
        return names


def tflite_runner(path, num_threads=None):
    """A :class:`LengthRunner` of the TFLite file at ``path``."""
    return LengthRunner(path, num_threads=num_threads)
