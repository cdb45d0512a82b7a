"""The CLI error contract (docs/errors.md): bad input ends with exit code 2 and
exactly one line on stderr, with nothing printed before it and no progress bar
drawn after it; signals remove temporary outputs.

The first three tests run the CLI in a fresh process (TensorFlow's import
noise and signals only show there); the others call `main` in this process.
"""

import importlib.resources
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from kipoi_genome.cli.main import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = importlib.resources.files("kipoi_genome") / "example_data"
FASTA = str(EXAMPLE / "chr20_44080000_44220000.fa")
CONTIG = "chr20_44080000_44220000"
ERROR_LINE = re.compile(r"kipoi-genome [a-z-]+: error: \S.*")


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(*args):
    return [sys.executable, "-m", "kipoi_genome.cli.main", *args]


def rendered(output):
    """What a terminal shows: each line after carriage returns overwrite it."""
    lines = []
    for line in output.split("\n"):
        screen = ""
        for part in line.split("\r"):
            screen = part + screen[len(part) :]
        lines.append(screen.rstrip())
    return lines


def assert_one_error_line(output, *fragments):
    """`output` (stdout and stderr together) is exactly one error line."""
    assert output.count("\n") == 1 and output.endswith("\n"), repr(output[-2000:])
    (line,) = rendered(output)[:-1]
    assert ERROR_LINE.fullmatch(line), repr(line)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def test_bad_input_prints_exactly_one_line_in_a_fresh_process(tmp_path):
    """TensorFlow's absl lines (cudart_stub etc.) are printed at import even with TF_CPP_MIN_LOG_LEVEL=3."""
    missing = tmp_path / "missing.bed"
    result = subprocess.run(
        _cli("predict", "--bed", str(missing), "--output", str(tmp_path / "out.tsv")),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=300,
    )
    assert result.returncode == 2
    assert_one_error_line(result.stdout.decode(), "kipoi-genome predict: error: ", str(missing))
    assert os.listdir(tmp_path) == []


def _vcf(path, records):
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={CONTIG},length=140000>"]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines += [f"{CONTIG}\t{pos}\t{vid}\t{ref}\t{alt}\t.\t.\t." for pos, vid, ref, alt in records]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_progress_bar_is_not_drawn_after_the_error_line(tmp_path):
    """An error found mid-run: the open bar is erased, the error line is the last thing written."""
    from kipoi_genome.data import FastaExtractor

    fasta = FastaExtractor(FASTA)
    good = fasta.extract(CONTIG, 10_000, 10_001).upper()
    bad_pos = 40_000
    wrong = next(b for b in "ACGT" if b != fasta.extract(CONTIG, bad_pos - 1, bad_pos).upper())
    records = [(10_001, "good", good, "A" if good != "A" else "C"), (bad_pos, "bad", wrong, "G" if wrong != "G" else "T")]
    vcf = _vcf(tmp_path / "calls.vcf", records)
    result = subprocess.run(
        _cli(
            "score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", FASTA, "--vcf", vcf,
            "--output", str(tmp_path / "scores.tsv"), "--batch-size", "1", "--on-ref-mismatch", "error",
        ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), timeout=300,
    )
    output = result.stdout.decode()  # bytes: text mode would turn the bar's \r into \n
    assert result.returncode == 2
    assert "score-variants: " in output.split("kipoi-genome")[0]  # the bar was drawn before
    assert_one_error_line(output, "calls.vcf:5", "REF")
    assert sorted(os.listdir(tmp_path)) == ["calls.vcf"]


def test_sigterm_removes_the_partial_output_and_says_so(tmp_path):
    bed = tmp_path / "regions.bed"
    bed.write_text((EXAMPLE / "example_regions.bed").read_text() * 50)  # 800 regions: a long run
    output = tmp_path / "predictions.tsv"
    process = subprocess.Popen(
        _cli("predict", "--bed", str(bed), "--output", str(output)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(),
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            if any(".kipoi-genome-partial." in name for name in os.listdir(tmp_path)):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()[0][-2000:].decode()
        time.sleep(0.5)  # inside the prediction loop
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert rendered(out.decode())[:-1] == ["kipoi-genome predict: error: interrupted by SIGTERM"]
    assert os.listdir(tmp_path) == ["regions.bed"]


def _run(capfd, *args):
    code = main(list(args))
    captured = capfd.readouterr()
    return code, captured.out + captured.err


def test_output_that_is_a_directory(tmp_path, capfd):
    code, output = _run(capfd, "predict", "--output", str(tmp_path), "--no-progress")
    assert code == 2
    assert_one_error_line(output, f"{tmp_path}: is a directory")
    assert os.listdir(tmp_path) == []


def test_output_below_a_regular_file(tmp_path, capfd):
    (tmp_path / "notes.txt").write_text("x")
    code, output = _run(capfd, "predict", "--output", str(tmp_path / "notes.txt" / "out.tsv"), "--no-progress")
    assert code == 2
    assert_one_error_line(output, f"{tmp_path}/notes.txt/out.tsv: Not a directory")


def test_output_in_a_read_only_folder(tmp_path, capfd):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write to read-only folders (root)")
        code, output = _run(capfd, "predict", "--output", str(folder / "out.tsv"), "--no-progress")
    finally:
        os.chmod(folder, 0o755)
    assert code == 2
    assert_one_error_line(output, f"{folder / 'out.tsv'}: Permission denied")


def test_score_variants_with_a_model_that_cannot_score_variants(tmp_path, capfd):
    """The default promoter preset: one line before any input is read (the inputs do not exist)."""
    code, output = _run(
        capfd, "score-variants", "--model", "logo_promoter_chr20", "--fasta", str(tmp_path / "no.fa"),
        "--vcf", str(tmp_path / "no.vcf"), "--output", str(tmp_path / "scores.tsv"),
    )
    assert code == 2
    assert_one_error_line(output, "logo_promoter_chr20: LogoPromoterClassifier", "score-variants runs Enformer")
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    model = keras.Sequential([keras.Input((16, 4)), keras.layers.Conv1D(3, 5, name="conv")])
    path = tmp_path_factory.mktemp("model") / "small.keras"
    model.save(path)
    return path


def test_truncated_keras_file_is_reported_as_truncated(tmp_path, keras_file, capfd):
    data = keras_file.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    code, output = _run(capfd, "predict", "--model", str(truncated), "--output", str(tmp_path / "o.tsv"))
    assert code == 2
    line = assert_one_error_line(output, f"{truncated}: truncated or corrupt .keras file")
    assert "not found" not in line


def test_corrupt_keras_member_is_reported_as_corrupt(tmp_path, keras_file, capfd):
    import zipfile

    data = bytearray(keras_file.read_bytes())
    with zipfile.ZipFile(keras_file) as archive:
        info = archive.getinfo("model.weights.h5")
    data[info.header_offset + 100 + info.file_size // 2] ^= 0xFF  # inside the stored weights
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(bytes(data))
    code, output = _run(capfd, "predict", "--model", str(corrupt), "--output", str(tmp_path / "o.tsv"))
    assert code == 2
    assert_one_error_line(output, f"{corrupt}: truncated or corrupt .keras file", "CRC")


def test_usage_errors_are_one_line(capfd):
    with pytest.raises(SystemExit) as info:
        main(["predict", "--batch-size", "many"])
    assert info.value.code == 2
    captured = capfd.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, "invalid int value: 'many'", "kipoi-genome predict --help")


_DROPPED = """
import os, signal, sys, threading, time
from kipoi_genome.cli import errors

class Slow:
    def __del__(self):
        time.sleep(1.0)  # SIGTERM arrives here: Python drops exceptions raised in __del__

start = time.monotonic()  # after the imports (`import kipoi_genome` imports TensorFlow)
with errors.signals_as_exceptions():
    try:
        obj = Slow()
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        del obj
        print("survived", flush=True)
        time.sleep(30)
    except errors.Terminated as error:
        print(f"{time.monotonic() - start:.1f}", flush=True)
        sys.exit(errors.report_interrupt("test", error))
"""


def test_a_dropped_sigterm_is_raised_again():
    result = subprocess.run([sys.executable, "-c", _DROPPED], capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 143 and result.stdout.startswith("survived\n")
    assert result.stderr == "kipoi-genome test: error: interrupted by SIGTERM\n"  # no "Exception ignored"
    assert float(result.stdout.split()[1]) < 15  # raised again after REDELIVER_S, not after the 30-s sleep


def test_warnings_wait_for_the_first_output_and_are_dropped_on_bad_input(capfd):
    import logging

    from kipoi_genome.cli import errors

    logger = logging.getLogger("kipoi_genome")
    with errors.held_warnings() as held:  # bad input after the warning: the warning is dropped
        logger.warning("warning: untrained")
        held.discard()
        errors.report("predict", ValueError("bad.bed, line 3: end 5 < start 9"))
    assert_one_error_line(capfd.readouterr().err, "bad.bed, line 3")

    with errors.held_warnings():  # output after the warning: the warning comes first, then the output
        logger.warning("warning: untrained")
        assert capfd.readouterr().err == ""
        print("chrom\tstart")
        sys.stderr.write("bar\n")
        logger.warning("warning: later")
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("chrom\tstart\n", "warning: untrained\nbar\nwarning: later\n")

    with errors.held_warnings():  # no output at all: written when the command ends
        logger.warning("warning: untrained")
    assert capfd.readouterr().err == "warning: untrained\n"
    assert logger.propagate and not [h for h in logger.handlers if isinstance(h, errors._HeldWarnings)]


def test_untrained_preset_warning_is_dropped_when_bad_input_follows(tmp_path, capfd):
    """`enformer_tiny` (untrained) loads, logs its warning, then a sequence of the wrong length ends the run."""
    table = tmp_path / "sequences.csv"
    table.write_text("name,sequence\nshort_one,ACGTACGT\n")
    code, output = _run(capfd, "predict", "--model", "enformer_tiny", "--sequences", str(table),
                        "--output", str(tmp_path / "out.tsv"), "--no-progress")
    assert code == 2
    assert_one_error_line(output, "sequences.csv")
    assert "warning:" not in output and "random) weights" not in output
    assert sorted(os.listdir(tmp_path)) == ["sequences.csv"]
