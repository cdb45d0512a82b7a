"""The CLI's error contract (docs/errors.md), in one place.

Bad input ends a command with exit code 2 and exactly one line on stderr,
``kipoi-genome COMMAND: error: MESSAGE``, with nothing printed before it:

- `EXPECTED_ERRORS` lists the error classes that mean bad input or a bad
  environment (the data layer's `InputFileError` is a ValueError; OSError
  covers a missing file, a directory given as output, a read-only folder, a
  full disk); `error_line` turns one into its single line.
- TensorFlow's import noise is captured by `import kipoi_genome` itself
  (`kipoi_genome.utils.quiet_import`), before this module is imported.
- `close_progress_bars` closes (and erases) open tqdm bars, so a bar that
  belongs to an abandoned generator is not redrawn after the error line.
- `held_warnings` holds the package's warnings (e.g. a preset's untrained
  weights) until the command first writes to stdout or stderr, and drops
  them when the command ends in bad input, so the error line stays alone.
- `signals_as_exceptions` turns SIGTERM and SIGHUP into `Terminated` (raised
  again if Python drops it, see `REDELIVER_S`), so
  `finally` blocks and `kipoi_genome.utils.atomic.atomic_output` remove temporary
  files as they do for Ctrl-C (KeyboardInterrupt); the exit code is
  128 + the signal number, as a shell reports a signal death.

Nothing imports this module but `kipoi_genome.cli.main`.
"""

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading

# Bad input or environment: one line, exit code 2. Anything else is a bug and
# keeps its traceback (exit code 1).
EXPECTED_ERRORS = (ValueError, KeyError, OSError)

# TensorFlow runtime errors that describe the input or the machine, not a bug.
_TF_EXPECTED = ("DataLossError", "NotFoundError", "PermissionDeniedError", "ResourceExhaustedError")

EXIT_BAD_INPUT = 2


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM or SIGHUP.

    A BaseException (like KeyboardInterrupt), so `except Exception` clauses
    do not swallow it and cleanup code runs on the way out.

    Args:
        signum: int. The signal received.
    """

    def __init__(self, signum):
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


def expected_errors():
    """`EXPECTED_ERRORS` plus TensorFlow's input-related `OpError`s when TF is loaded.

    Returns:
        tuple of exception classes.
    """
    classes = EXPECTED_ERRORS
    tf_errors = getattr(sys.modules.get("tensorflow"), "errors", None)
    if tf_errors is not None:
        classes += tuple(getattr(tf_errors, name) for name in _TF_EXPECTED if hasattr(tf_errors, name))
    return classes


def _one_line(text):
    return re.sub(r"\s*\n\s*", " ", str(text)).strip()


def error_message(error):
    """The message of an expected error, on one line.

    OSErrors read ``PATH: reason`` (``out.tsv: Is a directory``), KeyErrors
    their message without quotes, TensorFlow errors their first line.

    Args:
        error: an instance of one of `expected_errors()`.

    Returns:
        str without newlines.
    """
    if isinstance(error, OSError) and error.strerror:
        names = [os.fspath(n) for n in (error.filename, error.filename2) if n is not None]
        return _one_line(": ".join([" -> ".join(names), error.strerror] if names else [error.strerror]))
    if isinstance(error, KeyError) and error.args:
        return _one_line(error.args[0])
    message = getattr(error, "message", None) if type(error).__name__ in _TF_EXPECTED else None
    if message:
        return _one_line(str(message).splitlines()[0])
    return _one_line(error) or type(error).__name__


def error_line(command, error):
    """``kipoi-genome COMMAND: error: MESSAGE`` (see `error_message`)."""
    return f"kipoi-genome {command}: error: {error_message(error)}"


def close_progress_bars():
    """Closes every open tqdm bar, erasing its line (no-op when tqdm is not loaded)."""
    tqdm_module = sys.modules.get("tqdm.std")
    if tqdm_module is None:
        return
    for bar in list(getattr(tqdm_module.tqdm, "_instances", ())):
        bar.leave = False
        with contextlib.suppress(Exception):
            bar.close()


def report(command, error, stream=None):
    """Closes progress bars, then writes `error_line` to stderr (or `stream`)."""
    close_progress_bars()
    stream = stream or sys.stderr
    stream.write(error_line(command, error) + "\n")
    stream.flush()


def report_interrupt(command, error):
    """Reports a KeyboardInterrupt or `Terminated` on one line.

    Returns:
        int. The exit code, 128 + the signal number (130 for Ctrl-C, 143 for
        SIGTERM).
    """
    _disarm()
    signum = getattr(error, "signum", signal.SIGINT)
    report(command, Interrupted(f"interrupted by {signal.Signals(signum).name}"))
    return 128 + signum


class _HeldWarnings(logging.Handler):
    """Keeps warning lines until `write_held`, then writes them (and later ones) to `stream`.

    (Not `release`: `logging.Handler.release` is the handler's lock.)
    """

    def __init__(self, stream):
        super().__init__(logging.WARNING)
        self.stream = stream
        self.pending = []
        self.released = False

    def emit(self, record):
        line = self.format(record)
        if self.released:
            self.stream.write(line + "\n")
            self.stream.flush()
        else:
            self.pending.append(line)

    def write_held(self):
        if self.released:
            return
        self.released = True
        lines, self.pending = self.pending, []
        if lines:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()

    def discard(self):
        self.pending = []


class _ReleasingStream:
    """A text stream that releases held warnings before its first non-empty write."""

    def __init__(self, stream, held):
        self._stream = stream
        self._held = held

    def write(self, text):
        if text:
            self._held.write_held()
        return self._stream.write(text)

    def writelines(self, lines):
        lines = list(lines)
        if any(lines):
            self._held.write_held()
        return self._stream.writelines(lines)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def held_warnings(logger_name="kipoi_genome"):
    """Within the block, the package logger's warnings wait for the command's first output.

    A warning logged before the command has written anything (the untrained
    weights of `enformer_tiny`, say) is written to stderr just before the
    command's first write to stdout or stderr (a progress bar, a table), or
    at the end of the block; `discard()` on the yielded handler drops the
    held ones, so bad input found after the model loaded still ends with its
    error line alone. Warnings logged after the first output are written at
    once.

    Yields:
        The handler, with `discard()`.
    """
    logger = logging.getLogger(logger_name)
    held = _HeldWarnings(sys.stderr)
    saved = (logger.propagate, sys.stdout, sys.stderr)
    logger.addHandler(held)
    logger.propagate = False
    sys.stdout, sys.stderr = _ReleasingStream(sys.stdout, held), _ReleasingStream(sys.stderr, held)
    try:
        yield held
    finally:
        sys.stdout, sys.stderr = saved[1], saved[2]
        logger.removeHandler(held)
        logger.propagate = saved[0]
        held.write_held()


class Interrupted(Exception):
    """The message of an interrupted command (see `report_interrupt`)."""


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose usage errors are one line (exit code 2).

    The subcommand parsers inherit the class.
    """

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


# Seconds after which a signal's exception is raised again if it has not ended
# the command yet: Python drops an exception raised while the main thread runs
# a __del__ method or a weakref callback ("Exception ignored in ..."), which is
# where a signal lands now and then while TensorFlow traces a function.
REDELIVER_S = 2.0


def _disarm():
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def signals_as_exceptions(signums=(signal.SIGTERM, signal.SIGHUP)):
    """Within the block, the given signals raise `Terminated` in the main thread.

    After the first signal, further ones are ignored (cleanup on the way out
    is not interrupted), but the same `Terminated` is raised again every
    `REDELIVER_S` seconds (SIGALRM) until the block is left or
    `report_interrupt` runs, in case the first one was dropped. Previous
    handlers are restored on exit. Outside the main thread (where Python
    cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame):
        if not received:
            received.append(signum)
            for number in signums:
                signal.signal(number, signal.SIG_IGN)
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
        raise Terminated(received[0])

    def unraisable(info, default=sys.unraisablehook):
        if not isinstance(info.exc_value, Terminated):  # a dropped one is raised again: no message
            default(info)

    watched = (*signums, signal.SIGALRM) if hasattr(signal, "setitimer") else signums
    previous = {number: signal.signal(number, handler) for number in watched}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        _disarm()
        sys.unraisablehook = previous_hook
        for number, old in previous.items():
            signal.signal(number, old)
