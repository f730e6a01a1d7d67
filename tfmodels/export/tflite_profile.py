"""Where a TFLite file spends its time, per operator type, from LiteRT's own profiler.

The Python ``Interpreter`` of ai_edge_litert exposes no profiler: its
``experimental_force_delegate_node_profiling`` only changes what an installed profiler
records, and Python can neither install nor read one; the packages installed here ship
no ``benchmark_model`` binary. The ``libLiteRt.so`` inside ai_edge_litert does export
LiteRT's C API, profiler included: a CompiledModel created with the runtime option
``enable_profiling`` records one event per operator of each ``LiteRtRunCompiledModel``
(``LiteRtCompiledModelGetProfiler``, ``LiteRtStartProfiler``,
``LiteRtGetProfilerEvents``). This module calls that API through ctypes, with the
structures of LiteRT 2.3's ``litert/c`` headers, and sums the events per operator
type. It is LiteRT's runtime on the CPU with its default path (the XNNPACK delegate,
as in the Interpreter; ``CompiledModel`` gives the Interpreter's outputs, see the
tests); the times are the profiler's, in whole microseconds per event, so ops much
shorter than 1 us read as 0 or 1.

XNNPACK: the ops the XNNPACK delegate takes run inside delegate nodes, and XNNPACK
reports each of its own operators to the profiler (``DELEGATE_PROFILED_OPERATOR``
events) instead of one event per delegate node. Their rows are named
``XNNPACK/<XNNPACK operator>`` (``XNNPACK/Fully Connected (NC, QD8, F32, QC8W) GEMM``:
XNNPACK's names tell the data types it computes in); the other rows are the TFLite
builtin ops that ran outside XNNPACK, under their TFLite names (``GATHER``). With
``delegate_detail=False`` all XNNPACK rows become one ``DELEGATE (XNNPACK)`` row, whose
count is the number of delegate partitions run. ``xnnpack=False`` runs LiteRT's
builtin CPU kernels instead (kernel mode ``builtin``), so every row is a TFLite op.
"""

import collections
import ctypes
import os

import numpy as np

from tfmodels.errors import ConfigError, DataError

OpTime = collections.namedtuple("OpTime", ["op_type", "ms", "share", "count"])
OpTime.__doc__ = """One operator type: ``ms`` per run (all its nodes together), ``share``
of the ops' total, ``count`` of its nodes (or XNNPACK operators) per run."""

DELEGATE_ROW = "DELEGATE (XNNPACK)"
XNNPACK_PREFIX = "XNNPACK/"

# LiteRtProfilerEventType (litert/c/litert_profiler_event.h).
_DEFAULT = 1
_OPERATOR = 2
_DELEGATE_OPERATORS = (4, 8)
# LiteRtElementType (litert/c/litert_model_types.h) -> numpy.
_DTYPES = {
    1: np.float32,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    6: np.bool_,
    7: np.int16,
    9: np.int8,
    10: np.float16,
    11: np.float64,
}
_ALIGNMENT = 64  # LITERT_HOST_MEMORY_BUFFER_ALIGNMENT
_CPU = 1  # kLiteRtHwAcceleratorCpu


class _Layout(ctypes.Structure):  # LiteRtLayout: rank (7 bits) and has_strides (1 bit)
    _fields_ = [
        ("bits", ctypes.c_uint32),
        ("dimensions", ctypes.c_int32 * 8),
        ("strides", ctypes.c_uint32 * 8),
    ]

    @property
    def shape(self):
        return [int(d) for d in self.dimensions[: self.bits & 0x7F]]


class _TensorType(ctypes.Structure):  # LiteRtRankedTensorType
    _fields_ = [("element_type", ctypes.c_int32), ("layout", _Layout)]


class _MemoryUsage(ctypes.Structure):  # LiteRtMemoryUsage
    _fields_ = [(name, ctypes.c_size_t) for name in ("total", "in_use", "private")]


class _Event(ctypes.Structure):  # ProfiledEventData
    _fields_ = [
        ("tag", ctypes.c_char_p),
        ("event_type", ctypes.c_int),
        ("start_us", ctypes.c_uint64),
        ("elapsed_us", ctypes.c_uint64),
        ("begin_memory", _MemoryUsage),
        ("end_memory", _MemoryUsage),
        ("metadata1", ctypes.c_uint64),
        ("metadata2", ctypes.c_uint64),
        ("source", ctypes.c_int),
    ]


assert ctypes.sizeof(_Layout) == 68 and ctypes.sizeof(_TensorType) == 72


def _library():
    import ai_edge_litert

    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")
    if not os.path.isfile(path):
        raise ConfigError(f"{path} not found: this ai-edge-litert ships no LiteRT C library")
    lib = ctypes.CDLL(path)
    lib.LiteRtDestroyTensorBuffer.restype = None
    lib.LiteRtDestroyCompiledModel.restype = None
    lib.LiteRtDestroyModel.restype = None
    lib.LiteRtDestroyOptions.restype = None
    lib.LiteRtDestroyEnvironment.restype = None
    return lib


def _aligned(shape, dtype):
    """A zeroed array whose data starts on a 64-byte boundary, as LiteRT requires."""
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + _ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % _ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


class CompiledModel:
    """One signature of a TFLite file as a LiteRT CompiledModel on the CPU, with its
    profiler on. ``run(inputs)`` returns the outputs; ``profiled_run(inputs)`` the
    outputs and the profiler's events of that run."""

    def __init__(self, path, signature=None, num_threads=2, xnnpack=True):
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such TFLite file")
        self.path = path
        self._lib = lib = _library()
        self._handles = []
        self._buffers = []
        P = ctypes.c_void_p
        env, model, options, compiled = P(), P(), P(), P()
        self._check(lib.LiteRtCreateEnvironment(0, None, ctypes.byref(env)), "environment")
        self._handles.append(("LiteRtDestroyEnvironment", env))
        self._check(
            lib.LiteRtCreateModelFromFile(env, os.fsencode(path), ctypes.byref(model)), path
        )
        self._handles.append(("LiteRtDestroyModel", model))
        self._check(lib.LiteRtCreateOptions(ctypes.byref(options)), "options")
        self._handles.append(("LiteRtDestroyOptions", options))
        self._check(lib.LiteRtSetOptionsHardwareAccelerators(options, _CPU), "CPU")
        self._add_options(options, "runtime_options_string", "enable_profiling = true\n")
        cpu = f"num_threads = {int(num_threads)}\n"
        if not xnnpack:
            cpu += 'kernel_mode = "builtin"\n'
        self._add_options(options, "xnnpack", cpu)
        self._check(
            lib.LiteRtCreateCompiledModel(env, model, options, ctypes.byref(compiled)),
            "compiled model",
        )
        self._handles.append(("LiteRtDestroyCompiledModel", compiled))
        self._compiled, self._model = compiled, model
        self.signature, self._index, self._signature = self._find_signature(signature)
        self.inputs = self._tensors("Input")
        self.outputs = self._tensors("Output")
        self._profiler = P()
        self._check(
            lib.LiteRtCompiledModelGetProfiler(compiled, ctypes.byref(self._profiler)),
            "profiler",
        )
        if not self._profiler:
            raise ConfigError("LiteRT gave no profiler (enable_profiling was not taken)")
        self._shapes = None

    @staticmethod
    def _check(status, what):
        if status != 0:
            raise ConfigError(f"LiteRT C API: {what} failed (LiteRtStatus {status})")

    def _add_options(self, options, identifier, toml):
        """Opaque options (a TOML string, as LiteRT's own option classes write them);
        the payload is strdup'ed, for LiteRT frees it with free()."""
        libc = ctypes.CDLL(None)
        libc.strdup.restype = ctypes.c_void_p
        payload = ctypes.c_void_p(libc.strdup(toml.encode()))
        opaque = ctypes.c_void_p()
        free = ctypes.cast(libc.free, ctypes.c_void_p)
        self._check(
            self._lib.LiteRtCreateOpaqueOptions(
                identifier.encode(), payload, free, ctypes.byref(opaque)
            ),
            f"{identifier} options",
        )
        self._check(self._lib.LiteRtAddOpaqueOptions(options, opaque), f"{identifier} options")

    def _find_signature(self, key):
        lib, count = self._lib, ctypes.c_size_t()
        self._check(lib.LiteRtGetNumModelSignatures(self._model, ctypes.byref(count)), "count")
        keys = []
        for index in range(count.value):
            signature, name = ctypes.c_void_p(), ctypes.c_char_p()
            self._check(
                lib.LiteRtGetModelSignature(
                    self._model, ctypes.c_size_t(index), ctypes.byref(signature)
                ),
                "signature",
            )
            self._check(lib.LiteRtGetSignatureKey(signature, ctypes.byref(name)), "key")
            keys.append(name.value.decode())
            if key is None and count.value == 1 or key == keys[-1]:
                return keys[-1], index, signature
        if key is None:
            raise ConfigError(f"the file has signatures {keys}: name one")
        raise ConfigError(f"signature {key!r}: the file has {keys}")

    def _tensors(self, kind):
        """[(name, element type)] of the signature's inputs or outputs."""
        lib, count, out = self._lib, ctypes.c_size_t(), []
        self._check(
            getattr(lib, f"LiteRtGetNumSignature{kind}s")(self._signature, ctypes.byref(count)),
            kind,
        )
        for i in range(count.value):
            name, tensor, kind_type = ctypes.c_char_p(), ctypes.c_void_p(), _TensorType()
            index = ctypes.c_size_t(i)
            self._check(
                getattr(lib, f"LiteRtGetSignature{kind}Name")(
                    self._signature, index, ctypes.byref(name)
                ),
                kind,
            )
            self._check(
                getattr(lib, f"LiteRtGetSignature{kind}TensorByIndex")(
                    self._signature, index, ctypes.byref(tensor)
                ),
                kind,
            )
            self._check(lib.LiteRtGetRankedTensorType(tensor, ctypes.byref(kind_type)), kind)
            if kind_type.element_type not in _DTYPES:
                raise ConfigError(f"{name.value.decode()}: element type {kind_type.element_type}")
            out.append((name.value.decode(), kind_type))
        return out

    def _prepare(self, inputs):
        """Input and output buffers over aligned numpy arrays, made again when the
        input shapes change (resizing the dynamic dimensions first)."""
        names = [name for name, _ in self.inputs]
        if set(inputs) != set(names):
            raise DataError(f"inputs {sorted(inputs)}: signature {self.signature} takes {names}")
        shapes = [tuple(np.shape(inputs[name])) for name in names]
        if shapes == self._shapes:
            return
        lib = self._lib
        for buffer in self._buffers:
            lib.LiteRtDestroyTensorBuffer(buffer)
        self._buffers, self._in, self._out = [], [], []
        for i, ((name, kind), shape) in enumerate(zip(self.inputs, shapes)):
            if kind.layout.shape != list(shape):
                dims = (ctypes.c_int * len(shape))(*shape)
                self._check(
                    lib.LiteRtCompiledModelResizeInputTensor(
                        self._compiled,
                        ctypes.c_size_t(self._index),
                        ctypes.c_size_t(i),
                        dims,
                        ctypes.c_size_t(len(shape)),
                    ),
                    f"resizing {name} to {list(shape)}",
                )
            self._in.append(self._buffer(kind, shape))
        # A graph with a dynamic batch computes its reshapes' shapes at run time
        # (SHAPE, PACK, RESHAPE), so LiteRT knows the output shapes only after a run
        # (LiteRtGetCompiledModelOutputTensorLayouts still gives the old ones): take
        # them from the Interpreter.
        shapes_out = self._output_shapes(inputs)
        for name, kind in self.outputs:
            self._out.append(self._buffer(kind, shapes_out[name]))
        self._shapes = shapes
        self._in_handles = (ctypes.c_void_p * len(self._in))(*[b for _, b in self._in])
        self._out_handles = (ctypes.c_void_p * len(self._out))(*[b for _, b in self._out])

    def _output_shapes(self, inputs):
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=self.path).get_signature_runner(self.signature)
        dtypes = {name: _DTYPES[kind.element_type] for name, kind in self.inputs}
        outputs = runner(**{k: np.asarray(v, dtypes[k]) for k, v in inputs.items()})
        return {name: list(np.shape(value)) for name, value in outputs.items()}

    def _buffer(self, kind, shape):
        """(array, tensor buffer handle) of ``shape``."""
        array = _aligned(shape, _DTYPES[kind.element_type])
        tensor_type = _TensorType()
        tensor_type.element_type = kind.element_type
        tensor_type.layout.bits = len(shape)
        for i, d in enumerate(shape):
            tensor_type.layout.dimensions[i] = d
        handle = ctypes.c_void_p()
        self._check(
            self._lib.LiteRtCreateTensorBufferFromHostMemory(
                ctypes.byref(tensor_type),
                ctypes.c_void_p(array.ctypes.data),
                ctypes.c_size_t(max(array.nbytes, 1)),
                None,
                ctypes.byref(handle),
            ),
            f"buffer of shape {list(shape)}",
        )
        self._buffers.append(handle)
        return array, handle

    def run(self, inputs):
        """The outputs ({name: array}) for ``inputs`` ({name: array})."""
        self._prepare(inputs)
        for (name, _), (array, _) in zip(self.inputs, self._in):
            array[...] = np.asarray(inputs[name], array.dtype)
        self._check(
            self._lib.LiteRtRunCompiledModel(
                self._compiled,
                ctypes.c_size_t(self._index),
                ctypes.c_size_t(len(self._in)),
                self._in_handles,
                ctypes.c_size_t(len(self._out)),
                self._out_handles,
            ),
            "run",
        )
        return {name: array.copy() for (name, _), (array, _) in zip(self.outputs, self._out)}

    def profiled_run(self, inputs):
        """(outputs, events): the profiler's events of one run, each a tuple (tag,
        event type, elapsed microseconds)."""
        lib = self._lib
        self._prepare(inputs)
        self._check(lib.LiteRtStartProfiler(self._profiler), "starting the profiler")
        outputs = self.run(inputs)
        self._check(lib.LiteRtStopProfiler(self._profiler), "stopping the profiler")
        count = ctypes.c_int()
        self._check(lib.LiteRtGetNumProfilerEvents(self._profiler, ctypes.byref(count)), "events")
        events = (_Event * max(count.value, 1))()
        if count.value:
            self._check(lib.LiteRtGetProfilerEvents(self._profiler, count, events), "events")
        found = [
            (e.tag.decode(errors="replace") if e.tag else "", e.event_type, e.elapsed_us)
            for e in events[: count.value]
        ]
        self._check(lib.LiteRtResetProfiler(self._profiler), "resetting the profiler")
        return outputs, found

    def close(self):
        lib = self._lib
        for buffer in self._buffers:
            lib.LiteRtDestroyTensorBuffer(buffer)
        self._buffers = []
        while self._handles:
            destroy, handle = self._handles.pop()
            getattr(lib, destroy)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handles", None):
            self.close()


def summarize(event_runs, delegate_detail=True):
    """OpTime rows, slowest first, from the events of several runs (lists of
    ``(tag, event type, elapsed us)``)."""
    total_us = collections.Counter()
    nodes = collections.Counter()
    for events in event_runs:
        in_delegate = False
        for tag, kind, elapsed in events:
            if kind == _OPERATOR:
                name, in_delegate = tag, False
            elif kind in _DELEGATE_OPERATORS:
                if delegate_detail:
                    name = XNNPACK_PREFIX + tag
                else:
                    name = DELEGATE_ROW
                    if in_delegate:  # one partition runs its operators in a row
                        total_us[name] += elapsed
                        continue
                in_delegate = True
            else:
                continue  # the run's own events (Invoke, buffer registration)
            total_us[name] += elapsed
            nodes[name] += 1
    runs = max(len(event_runs), 1)
    all_us = sum(total_us.values())
    rows = [
        OpTime(name, us / runs / 1000, us / all_us if all_us else 0.0, nodes[name] / runs)
        for name, us in total_us.items()
    ]
    return sorted(rows, key=lambda row: (-row.ms, row.op_type))


def invoke_ms(event_runs):
    """The mean time of the runs' ``Invoke`` events (the whole graph), in ms."""
    times = [
        us
        for events in event_runs
        for tag, kind, us in events
        if kind == _DEFAULT and tag == "Invoke"
    ]
    return sum(times) / max(len(event_runs), 1) / 1000


def profile_events(path, inputs, runs=20, num_threads=2, signature=None, xnnpack=True, warmup=2):
    """The profiler's events of ``runs`` runs (after ``warmup`` unprofiled ones), one
    list of ``(tag, event type, elapsed us)`` per run: for :func:`summarize` and
    :func:`invoke_ms`."""
    if runs < 1:
        raise ConfigError(f"runs={runs}: at least 1")
    with CompiledModel(path, signature, num_threads, xnnpack) as model:
        for _ in range(warmup):
            model.run(inputs)
        return [model.profiled_run(inputs)[1] for _ in range(runs)]


def profile(
    path,
    inputs,
    runs=20,
    num_threads=2,
    signature=None,
    xnnpack=True,
    delegate_detail=True,
    warmup=2,
):
    """Per-op-type profile of the TFLite file at ``path`` on ``inputs`` ({name: array}
    of the signature's inputs; dynamic dimensions are resized to them): a list of
    :data:`OpTime` ``(op_type, ms, share, count)``, slowest first, averaged over
    ``runs`` runs after ``warmup`` unprofiled ones. ``signature``: which signature
    (None: the only one). See the module doc for XNNPACK's rows.
    """
    events = profile_events(path, inputs, runs, num_threads, signature, xnnpack, warmup)
    return summarize(events, delegate_detail)


def format_table(rows, title=None):
    """A Markdown table of ``rows`` (op type, count, ms, share)."""
    lines = [f"**{title}**", ""] if title else []
    lines += ["| op type | count | ms | share |", "| --- | ---: | ---: | ---: |"]
    for row in rows:
        count = f"{row.count:.0f}" if float(row.count).is_integer() else f"{row.count:.1f}"
        lines.append(f"| {row.op_type} | {count} | {row.ms:.3f} | {100 * row.share:.1f}% |")
    lines.append(f"| total | | {sum(r.ms for r in rows):.3f} | 100% |")
    return "\n".join(lines)
