"""kipoi_genome.utils.atomic: permissions as `open` gives them, temp files removed on every exit path.

The signal tests run a few lines of Python in a child process (no TensorFlow,
well under a second each).
"""

import os
import signal
import stat
import subprocess
import sys

import pytest

from kipoi_genome.utils import atomic
from kipoi_genome.utils.atomic import atomic_output, current_umask, remove_stale_partials

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _partials(directory):
    return sorted(name for name in os.listdir(directory) if ".kipoi-genome-partial." in name)


@pytest.fixture
def umask():
    """Sets the process umask for a test and restores it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def test_current_umask_reads_without_changing(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert current_umask() == 0o027


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_gets_0666_minus_umask(tmp_path, umask, mask):
    umask(mask)
    with atomic_output(tmp_path / "out.tsv", "w") as handle:
        handle.write("x\n")
    with open(tmp_path / "plain.tsv", "w") as handle:  # what `open` gives
        handle.write("x\n")
    assert _mode(tmp_path / "out.tsv") == 0o666 & ~mask == _mode(tmp_path / "plain.tsv")


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "out.h5"
    path.write_text("old")
    os.chmod(path, 0o644)
    with atomic_output(path) as tmp:  # a writer that opens the path itself
        with open(tmp, "w") as handle:
            handle.write("new")
    assert path.read_text() == "new" and _mode(path) == 0o644


def test_temp_file_is_next_to_the_output_with_a_recognisable_name(tmp_path):
    path = tmp_path / "scores.tsv"
    with atomic_output(path, "w", suffix=".tsv") as handle:
        (name,) = _partials(tmp_path)  # in the output's folder
        assert name.startswith(f".scores.tsv.kipoi-genome-partial.{atomic._host()}.{os.getpid()}.")
        assert name.endswith(".tsv")
        handle.write("x")
    assert _partials(tmp_path) == [] and path.read_text() == "x"


def test_exception_removes_temp_file_and_keeps_old_output(tmp_path):
    path = tmp_path / "out.tsv"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(path, "w") as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert path.read_text() == "old" and _partials(tmp_path) == []


def test_output_that_is_a_directory_fails_before_writing(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        with atomic_output(tmp_path, "w"):
            pytest.fail("the body must not run")
    assert info.value.filename == str(tmp_path)
    assert _partials(tmp_path.parent) == []


def test_output_below_a_file_is_not_a_directory_error(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError) as info:
        with atomic_output(tmp_path / "file.txt" / "out.tsv", "w"):
            pass
    assert info.value.filename == str(tmp_path / "file.txt" / "out.tsv")


def test_read_only_folder_names_the_output(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write to read-only folders (root)")
        with pytest.raises(PermissionError) as info:
            with atomic_output(folder / "out.tsv", "w"):
                pass
        assert info.value.filename == str(folder / "out.tsv")
        assert "cannot create a file in" in info.value.strerror
    finally:
        os.chmod(folder, 0o755)


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    path = tmp_path / "out.tsv"
    host = atomic._host()
    dead = tmp_path / f".out.tsv.kipoi-genome-partial.{host}.{_dead_pid()}.abc123.tsv"
    alive = tmp_path / f".out.tsv.kipoi-genome-partial.{host}.{os.getppid()}.def456.tsv"
    other_host = tmp_path / f".out.tsv.kipoi-genome-partial.{host}x.{_dead_pid()}.ghi789.tsv"
    other_output = tmp_path / f".other.tsv.kipoi-genome-partial.{host}.{_dead_pid()}.jkl012.tsv"
    for file in (dead, alive, other_host, other_output):
        file.write_text("partial")
    assert remove_stale_partials(path) == [str(dead)]
    assert sorted(os.listdir(tmp_path)) == sorted(f.name for f in (alive, other_host, other_output))


# A child that holds an atomic output open until it is signalled.
_CHILD = """
import sys, time
from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.cli import errors
with errors.signals_as_exceptions():
    try:
        with atomic_output(sys.argv[1], "w") as handle:
            handle.write("partial")
            handle.flush()
            print("ready", flush=True)
            time.sleep(60)
    except (KeyboardInterrupt, errors.Terminated) as error:
        sys.exit(errors.report_interrupt("test", error))
"""


def _start_child(path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert child.stdout.readline() == "ready\n"
    return child


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_signals_remove_the_temp_file(tmp_path, signum, code):
    path = tmp_path / "out.tsv"
    child = _start_child(path)
    assert len(_partials(tmp_path)) == 1
    child.send_signal(signum)
    _, err = child.communicate(timeout=30)
    assert child.returncode == code
    assert err == f"kipoi-genome test: error: interrupted by {signal.Signals(signum).name}\n"
    assert os.listdir(tmp_path) == []


def test_sigkill_leftover_is_cleaned_by_the_next_write(tmp_path):
    path = tmp_path / "out.tsv"
    child = _start_child(path)
    child.kill()
    child.communicate(timeout=30)
    (leftover,) = _partials(tmp_path)  # SIGKILL cannot be caught
    with atomic_output(path, "w") as handle:
        assert leftover not in _partials(tmp_path)
        handle.write("done")
    assert os.listdir(tmp_path) == ["out.tsv"] and path.read_text() == "done"


def test_folder_outputs_get_mkdir_permissions(tmp_path, umask):
    """export-hub / export-kipoi folders are built in mkdtemp (0700) and moved into place."""
    import tempfile

    from kipoi_genome.export.saved_model import replace_directory

    umask(0o022)
    target = tmp_path / "exported"
    replace_directory(tempfile.mkdtemp(dir=tmp_path), str(target))
    assert _mode(target) == 0o755
    os.chmod(target, 0o750)
    replace_directory(tempfile.mkdtemp(dir=tmp_path), str(target))  # replacing keeps the mode
    assert _mode(target) == 0o750 and os.listdir(tmp_path) == ["exported"]
