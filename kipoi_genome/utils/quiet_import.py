"""Imports TensorFlow and Keras without their import noise on stderr.

`import kipoi_genome` calls `import_tensorflow_quietly` before it imports the
models (which import Keras, hence TensorFlow), so the CLI's error contract
(docs/errors.md: nothing printed before the one error line) holds although the
package import itself imports TensorFlow, and `import kipoi_genome` in Python
prints nothing either.

TensorFlow's C++ libraries log through absl before `absl::InitializeLog`
(e.g. ``cudart_stub.cc: Could not find cuda drivers``, once per shared library
that bundles absl), which ignores ``TF_CPP_MIN_LOG_LEVEL``; TensorFlow also
reads ``TF_CPP_MIN_LOG_LEVEL`` once, while it is imported, for all its later
C++ logging (e.g. ``failed call to cuInit`` at the first operation).
"""

import contextlib
import logging
import os
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"


def quiet_requested():
    """True when ``TF_CPP_MIN_LOG_LEVEL`` is unset or 3 (the default of kipoi-genome).

    A user who sets it to 0, 1 or 2 to see TensorFlow's logs gets them all,
    import lines included.
    """
    return os.environ.get(LOG_LEVEL_VARIABLE, "3").strip() == "3"


@contextlib.contextmanager
def _log_level_3():
    # Set for the import only: TensorFlow keeps the level it read then, and
    # the environment of the caller's subprocesses stays as it was.
    unset = LOG_LEVEL_VARIABLE not in os.environ
    if unset:
        os.environ[LOG_LEVEL_VARIABLE] = "3"
    try:
        yield
    finally:
        if unset:
            os.environ.pop(LOG_LEVEL_VARIABLE, None)


def import_tensorflow_quietly():
    """Imports TensorFlow and Keras with stderr (file descriptor 2) captured.

    When `quiet_requested()` and TensorFlow is not imported yet: TensorFlow
    is imported with ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set to 3),
    what it and Keras print while loading (absl's pre-initialisation lines,
    Python warnings) is dropped, and TensorFlow's Python loggers
    (``tensorflow``, ``absl``) are set to ERROR. If the import fails (not on
    Ctrl-C or SIGTERM), what was caught is written to stderr before the
    exception propagates. Otherwise this is a plain import.
    """
    if "tensorflow" in sys.modules or not quiet_requested():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log, _log_level_3():
        os.dup2(log.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except Exception:  # a broken installation: show what TensorFlow said
            sys.stderr.flush()
            os.dup2(saved, 2)
            log.seek(0)
            os.write(2, log.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
