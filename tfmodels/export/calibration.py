"""Edits to the calibrated ranges of a full-integer TFLite conversion, made between the
calibrator and the quantizer (the converter offers no option for either).

The calibrator returns the float flatbuffer with each tensor's observed [min, max];
the quantizer turns those into int8 scales and zero points. Two rules apply here:

* **Symmetric matmul operands.** XNNPACK runs an int8 BATCH_MATMUL only when its
  right-hand operand has zero point 0 (LiteRT's ``xnnpack_delegate.cc``,
  ``VisitBatchMatMulNode``); otherwise the op falls back to LiteRT's builtin kernel.
  In attention both operands are activations (Q K^T, then probabilities times V), and
  calibrated activation ranges are asymmetric, so every attention matmul fell back:
  on MiniLM-L6 that was half of the int8 file's time. The right operand's range (and
  that of the RESHAPE/TRANSPOSE chain producing it, which shares its scale) becomes
  ``[-m, m * 127/128]``, ``m`` its largest magnitude: scale ``m/128``, zero point 0.
* **One range per embedding table** across the signatures of a multi-length file
  (:func:`union_lookup_ranges`).
"""

import collections
import contextlib
import hashlib

import numpy as np


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def _ops_of(model, builtin):
    """Indices of the operator codes of ``builtin`` in ``model``."""
    return {
        i
        for i, code in enumerate(model.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin
    }


def union_lookup_ranges(model):
    """Every lookup (GATHER) of one constant table gets the union of its ranges over
    the subgraphs. int8 stores a table at its lookup output's scale: with one range
    per signature, each would keep its own copy of the table (the word embeddings:
    11.7 MB in MiniLM); with one range the copies are equal and the converter keeps
    one. ``model``: the flatbuffer as an object, changed in place."""
    gather = _ops_of(model, _schema().BuiltinOperator.GATHER)
    lookups = collections.defaultdict(list)
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if op.opcodeIndex not in gather:
                continue
            data = model.buffers[subgraph.tensors[op.inputs[0]].buffer].data
            stats = subgraph.tensors[op.outputs[0]].quantization
            if data is None or not len(data) or stats is None or stats.min is None:
                continue
            lookups[hashlib.sha1(np.asarray(data).tobytes()).hexdigest()].append(stats)
    for stats in lookups.values():
        low = min(float(np.min(s.min)) for s in stats)
        high = max(float(np.max(s.max)) for s in stats)
        for s in stats:
            s.min, s.max = [low], [high]


def symmetric_matmul_operands(model):
    """The right operand of every BATCH_MATMUL, and the RESHAPE/TRANSPOSE chain that
    produces it, gets the range ``[-m, m * 127/128]`` (int8 zero point 0). ``model``:
    the flatbuffer as an object, changed in place. Returns how many operands changed."""
    schema = _schema()
    matmul = _ops_of(model, schema.BuiltinOperator.BATCH_MATMUL)
    layout = _ops_of(model, schema.BuiltinOperator.RESHAPE) | _ops_of(
        model, schema.BuiltinOperator.TRANSPOSE
    )
    changed = 0
    for subgraph in model.subgraphs:
        producer = {out: op for op in subgraph.operators for out in op.outputs}
        for op in subgraph.operators:
            if op.opcodeIndex not in matmul:
                continue
            chain, tensor = [], op.inputs[1]
            while True:
                stats = subgraph.tensors[tensor].quantization
                if stats is None or stats.min is None:
                    break
                chain.append(stats)
                before = producer.get(tensor)
                if before is None or before.opcodeIndex not in layout:
                    break
                tensor = before.inputs[0]
            if not chain:
                continue
            m = max(max(abs(float(np.min(s.min))), abs(float(np.max(s.max)))) for s in chain)
            for s in chain:
                s.min, s.max = [-m], [m * 127 / 128]
            changed += 1
    return changed


def adjust(flatbuffer):
    """The calibrated ``flatbuffer`` (bytes) with both rules applied."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    symmetric_matmul_operands(model)
    if len(model.subgraphs) > 1:
        union_lookup_ranges(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@contextlib.contextmanager
def adjusted_ranges():
    """While converting: the calibrator's stats pass through :func:`adjust` before the
    quantizer reads them. It replaces ``Calibrator.calibrate`` for the block, which is
    process-wide: one conversion at a time."""
    from tensorflow.lite.python.optimize import calibrator

    calibrate = calibrator.Calibrator.calibrate

    def calibrate_and_adjust(self, dataset_gen):
        return adjust(calibrate(self, dataset_gen))

    calibrator.Calibrator.calibrate = calibrate_and_adjust
    try:
        yield
    finally:
        calibrator.Calibrator.calibrate = calibrate
