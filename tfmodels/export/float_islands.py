"""Runs chosen int8 ops of a converted TFLite file in float, between a DEQUANTIZE and a
QUANTIZE, by rewriting the flatbuffer.

Why: LiteRT's int8 SOFTMAX runs in its builtin kernel, outside XNNPACK (which has no
int8 softmax); in the demo's QAT classifier it took 2.4 ms of 6.7 (35%). The float
softmax runs inside XNNPACK (0.23 ms). The calibrated int8 path gets the same graph
from the converter's selective quantization (``tflite._selectively_quantized``), but
TF 2.21's converter offers that only with calibration: from a QAT model it quantizes
every op between two fake-quant points. So the QAT file is rewritten after conversion.

The island computes what the fake-quant Keras model computes: the op's input is the
same int8 tensor, dequantized, and its output is quantized to the int8 output's own
scale and zero point, so every tensor around it keeps its type and range.
"""

from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

_INT8 = schema.TensorType.INT8


def _builtin(model, name, version):
    """The index of builtin op ``name`` in the model's operator codes (appended at
    ``version``, the one of its int8 form, if missing)."""
    code = getattr(schema.BuiltinOperator, name)
    for index, entry in enumerate(model.operatorCodes):
        if max(entry.builtinCode, entry.deprecatedBuiltinCode) == code:
            return index
    entry = schema.OperatorCodeT()
    entry.builtinCode = code
    entry.deprecatedBuiltinCode = min(code, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    entry.version = version
    model.operatorCodes.append(entry)
    return len(model.operatorCodes) - 1


def _float_twin(subgraph, index):
    """Appends a float32 tensor of tensor ``index``'s shape; returns its index (appending
    keeps every existing index, which the signatures refer to)."""
    like = subgraph.tensors[index]
    twin = schema.TensorT()
    twin.shape = like.shape
    twin.shapeSignature = like.shapeSignature
    twin.type = schema.TensorType.FLOAT32
    twin.buffer = 0  # no data: an activation
    twin.name = (like.name or b"") + b"/float"
    subgraph.tensors.append(twin)
    return len(subgraph.tensors) - 1


def _op(opcode_index, inputs, outputs):
    op = schema.OperatorT()
    op.opcodeIndex = opcode_index
    op.inputs, op.outputs = list(inputs), list(outputs)
    return op


def run_in_float(flatbuffer, op_types):
    """``flatbuffer`` (bytes) with every op of a type in ``op_types`` (builtin names,
    e.g. ``("SOFTMAX",)``) that reads or writes int8 tensors run in float instead.
    Returns ``(new flatbuffer bytes, number of ops rewritten)``."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    codes = {getattr(schema.BuiltinOperator, name) for name in op_types}
    dequantize = _builtin(model, "DEQUANTIZE", version=2)
    quantize = _builtin(model, "QUANTIZE", version=2)
    rewritten = 0
    for subgraph in model.subgraphs:
        operators = []
        for op in subgraph.operators:
            entry = model.operatorCodes[op.opcodeIndex]
            tensors = subgraph.tensors
            int8 = [i for i in (*op.inputs, *op.outputs) if i >= 0 and tensors[i].type == _INT8]
            if max(entry.builtinCode, entry.deprecatedBuiltinCode) not in codes or not int8:
                operators.append(op)
                continue
            before, after = [], []
            inputs = list(op.inputs)
            for k, i in enumerate(inputs):
                if i >= 0 and tensors[i].type == _INT8:
                    inputs[k] = _float_twin(subgraph, i)
                    before.append(_op(dequantize, [i], [inputs[k]]))
            outputs = list(op.outputs)
            for k, i in enumerate(outputs):
                if tensors[i].type == _INT8:
                    outputs[k] = _float_twin(subgraph, i)
                    after.append(_op(quantize, [outputs[k]], [i]))
            op.inputs, op.outputs = inputs, outputs
            operators += [*before, op, *after]
            rewritten += 1
        subgraph.operators = operators
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), rewritten
