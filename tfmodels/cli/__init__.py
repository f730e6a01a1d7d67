"""The command-line scripts: one module each (``tfmodels.cli.classifier``, ...), whose
``main()`` is a console entry point (pyproject.toml's [project.scripts]) and what the
top-level run_*.py files call.

A script module has its docstring (the --help text), ``define_flags()`` and ``run()``.
Its flags are defined by ``main()``, not on import, because the scripts reuse flag names
(--init_from, --data_dir, ...) with their own help texts: absl allows one definition of
a name per process.

TensorFlow's C++ code logs to file descriptor 2. Unless TF_CPP_MIN_LOG_LEVEL is 0 or 1
(the user asks for those logs), the scripts raise it to 3, which hides its errors too:
CUDA's "failed call to cuInit" without a GPU, oneDNN's "supports DT_INT64 only on ...".
The lines the shared libraries log while they load (the absl::InitializeLog banner,
oneDNN's "custom operations are on", "Could not find cuda drivers") ignore that level
and any other environment variable, so TensorFlow is loaded here with them filtered out.
"""

import contextlib
import os
import re
import sys
import tempfile

from absl import app, flags

# "I0000 00:00:1796575399.434206    6409 port.cc:153] ..." and the banner absl prints first.
_CPP_LOG_LINE = re.compile(
    r"[IWEF]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] |WARNING: All log messages "
    r"before absl::InitializeLog\(\) is called"
)
_VERBOSE_HELP = (
    "\nTensorFlow's C++ log messages (start-up, CUDA, oneDNN) are hidden; set "
    "TF_CPP_MIN_LOG_LEVEL=0 in the environment to see them.\n"
)


@contextlib.contextmanager
def _without_cpp_log_lines():
    """Sends fd 2 to a file meanwhile, then writes back what is not a C++ log line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _CPP_LOG_LINE.match(line)))


if "tensorflow" not in sys.modules and os.environ.get("TF_CPP_MIN_LOG_LEVEL") not in ("0", "1"):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _without_cpp_log_lines():
        import tensorflow  # noqa: F401

from tfmodels.training import flags as common  # noqa: E402  (after TensorFlow is loaded)


def run_script(module_name):
    """The ``main()`` of every script: defines the module's flags and runs its ``run()``
    under absl, through :func:`tfmodels.training.flags.run_main` (one-line user errors).

    absl's --help prints ``__main__``'s docstring and the key flags of ``sys.argv[0]``
    (the console script or run_*.py file), so the module lends it both.
    """
    module = sys.modules[module_name]
    module.define_flags()
    for flag in flags.FLAGS.get_key_flags_for_module(module):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    sys.modules["__main__"].__doc__ = module.__doc__ + _VERBOSE_HELP
    app.run(lambda argv: common.run_main(module.run))
