"""Benchmark: one-hot DNA extraction from a FASTA, ours vs kipoiseq.

Times "interval → float32 one-hot (L, 4), N = 0" on the same random intervals
of GRCh37 chr20, for:

* ``kipoi_genome``, file: ``FastaExtractor(path)``, which reads every
  window from the file (a memory-map slice for plain FASTA, a pyfaidx read
  for bgzip), per window (``extract_one_hot``) and batched
  (``extract_one_hot_batch``: one gather and one lookup-table pass per batch);
* ``kipoi_genome``, in memory: ``FastaExtractor(path, in_memory=True)``
  (contig read once, then sliced in memory), per window and batched;
* ``kipoiseq``: ``FastaStringExtractor(path).extract(Interval(...))`` +
  ``one_hot_dna(seq, neutral_value=0.0, dtype=np.float32)`` (kipoiseq 0.7.1),
  if kipoiseq is installed (``pip install kipoiseq==0.7.1``);

on the bgzip FASTA from ../shared/data and on a plain (decompressed) copy.
Outputs of the two libraries are checked to be identical first. Each timing
is the best CPU time (``time.process_time``) of ``--repeats`` interleaved
rounds, which is robust to other jobs on a shared machine. The table is printed and written into
the ``## One-hot extraction`` section of docs/benchmarks.md.

Usage (from the repository root):
    nice python benchmarks/onehot_extraction.py
"""

import argparse
import gzip
import pathlib
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import git_commit, machine_description, update_markdown  # noqa: E402

from kipoi_genome.data import FastaExtractor, one_hot_encode  # noqa: E402

DEFAULT_FASTA = REPO.parent / "shared" / "data" / "reference" / "GRCh37_chr20.fa.gz"
SECTION = "## One-hot extraction"
GOAL = 10.0
# result key -> column / verdict label
MODES = {
    "file": "file, per window",
    "file_batched": "file, batched",
    "memory": "in-memory, per window",
    "memory_batched": "in-memory, batched",
}
# The goal's verdicts: (label, modes whose best counts, FASTA kind or None for all).
GOAL_GROUPS = [
    ("in-memory, best of per-window and batched", ("memory", "memory_batched"), None),
    ("plain FASTA read per request, best of per-window and batched", ("file", "file_batched"), "plain"),
    ("bgzip FASTA read per request (a BGZF block inflated per window), best of per-window and batched",
     ("file", "file_batched"), "bgzip"),
] + [(label, (key,), None) for key, label in MODES.items()]


def lowest(rows, keys, fasta=None):
    """(row, ratio): the measured row whose best of `keys` is the lowest multiple of kipoiseq's.

    Only rows of FASTA kind `fasta` (all if None) with a kipoiseq figure
    count; None if there is none.
    """
    chosen = [row for row in rows if row["kipoiseq"] and fasta in (None, row["fasta"])]
    if not chosen:
        return None
    ratios = [(max(row[key] for key in keys) / row["kipoiseq"], index) for index, row in enumerate(chosen)]
    ratio, index = min(ratios)
    return chosen[index], ratio


def random_intervals(chrom_length, count, length, seed):
    rng = np.random.default_rng(seed)
    starts = rng.integers(100_000, chrom_length - length - 100_000, size=count)
    return [(int(s), int(s) + length) for s in starts]


def best_times(functions, repeats):
    """Best CPU time of each function over `repeats` interleaved rounds.

    CPU time of this process (``time.process_time``: user + system, page
    faults included) does not count the time the process waits for other jobs
    on a shared machine. Interleaving the functions in every round exposes
    them to the same conditions. The best round is the least disturbed.

    Args:
        functions: dict name -> callable.
        repeats: int.

    Returns:
        dict name -> seconds.
    """
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            begin = time.process_time()
            function()
            best[name] = min(best[name], time.process_time() - begin)
    return best


def load_kipoiseq():
    try:
        from kipoiseq import Interval
        from kipoiseq.extractors import FastaStringExtractor
        from kipoiseq.transforms.functional import one_hot_dna
        import kipoiseq
    except ImportError:
        return None
    return Interval, FastaStringExtractor, one_hot_dna, kipoiseq.__version__


def run(args):
    kipoiseq = load_kipoiseq()
    fasta_gz = pathlib.Path(args.fasta)
    files = {"bgzip": fasta_gz}
    workdir = tempfile.mkdtemp(prefix="onehot_bench_")
    try:
        if not args.no_plain:
            plain = pathlib.Path(workdir) / "genome.fa"
            with gzip.open(fasta_gz, "rb") as source, open(plain, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 24)
            files["plain"] = plain
        probe = FastaExtractor(fasta_gz)
        chrom, chrom_length = next(iter(probe.chromosome_lengths.items()))
        shapes = [(args.small_count, args.small_length), (args.large_count, args.large_length)]
        rows = []
        for file_kind, path in files.items():
            FastaExtractor(path).chromosome_lengths  # builds a missing .fai outside the timings
            for count, length in shapes:
                intervals = random_intervals(chrom_length, count, length, args.seed)
                megabases = count * length / 1e6
                ours = FastaExtractor(path)
                cached = FastaExtractor(path, in_memory=True)
                begin = time.process_time()
                cached.extract(chrom, 0, 1)
                load_seconds = time.process_time() - begin

                def run_per_window(extractor):
                    for start, end in intervals:
                        extractor.extract_one_hot(chrom, start, end)

                batch = max(1, min(64, 262_144 // length))  # keep a batch near 4 MB of output

                def run_batched(extractor):
                    for first in range(0, len(intervals), batch):
                        chunk = intervals[first : first + batch]
                        extractor.extract_one_hot_batch(chrom, [start for start, _ in chunk], length)

                functions = {
                    "file": lambda: run_per_window(ours),
                    "file_batched": lambda: run_batched(ours),
                    "memory": lambda: run_per_window(cached),
                    "memory_batched": lambda: run_batched(cached),
                }
                if kipoiseq is not None:
                    Interval, FastaStringExtractor, one_hot_dna, _ = kipoiseq
                    extractor = FastaStringExtractor(str(path))

                    def run_kipoiseq():
                        for start, end in intervals:
                            one_hot_dna(
                                extractor.extract(Interval(chrom, start, end)),
                                neutral_value=0.0, dtype=np.float32,
                            )

                    checked = intervals[:3]
                    reference = np.stack([
                        one_hot_dna(extractor.extract(Interval(chrom, start, end)), neutral_value=0.0, dtype=np.float32)
                        for start, end in checked
                    ])
                    for mine in (ours, cached):
                        batched = mine.extract_one_hot_batch(chrom, [start for start, _ in checked], length)
                        single = np.stack([mine.extract_one_hot(chrom, start, end) for start, end in checked])
                        if not (np.array_equal(reference, batched) and np.array_equal(reference, single)):
                            raise AssertionError(f"outputs differ from kipoiseq's on {checked} ({mine!r})")
                    functions["kipoiseq"] = run_kipoiseq
                seconds = best_times(functions, args.repeats)
                result = {
                    "fasta": file_kind,
                    "windows": f"{count:,} × {length:,} bp",
                    "mb": megabases,
                    "load": load_seconds,
                    "batch": batch,
                    "kipoiseq": None,
                }
                result.update({name: megabases / value for name, value in seconds.items()})
                rows.append(result)
                print(f"  done: {file_kind} {result['windows']}", file=sys.stderr)

        # One-hot encoding alone (string already in memory).
        rng = np.random.default_rng(args.seed)
        text = "".join(rng.choice(list("ACGTN"), 1_000_000).tolist())
        functions = {"ours": lambda: one_hot_encode(text)}
        if kipoiseq is not None:
            one_hot_dna = kipoiseq[2]
            functions["kipoiseq"] = lambda: one_hot_dna(text, neutral_value=0.0, dtype=np.float32)
        encode_rows = {"kipoiseq": None}
        encode_rows.update({name: 1.0 / value for name, value in best_times(functions, args.repeats).items()})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows, encode_rows, kipoiseq


def fmt(value):
    return "–" if value is None else f"{value:,.1f}"


def ratio(ours, theirs):
    return "–" if theirs is None else f"{ours / theirs:,.1f}×"


def render(rows, encode_rows, kipoiseq, command):
    import pyfaidx

    peer = f"kipoiseq {kipoiseq[3]}" if kipoiseq else "kipoiseq (not installed: ours only)"
    lines = [
        SECTION,
        "",
        "Interval → float32 one-hot (L, 4), ACGT, N = 0, from GRCh37 chr20 (../shared/data); random",
        "windows inside the chromosome, the same for every library; throughput in Mb of sequence per",
        "second of CPU time (process user + system time, best of interleaved repeats). Peer: `FastaStringExtractor.extract` + `one_hot_dna(neutral_value=0.0,",
        "dtype=float32)`; outputs checked identical. *file* = `FastaExtractor(path)`: every window read from",
        "the file (plain FASTA: a slice of a memory map at the offsets of pyfaidx's index; bgzip: a pyfaidx read).",
        "*in-memory* = `FastaExtractor(path, in_memory=True)` (contig read once, one-off load time in its own",
        "column, not in the Mb/s).",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine_description()}; shared with other jobs, run under `nice`",
        f"- Software: Python {platform.python_version()}, NumPy {np.__version__}, pyfaidx {pyfaidx.__version__}, {peer}",
        f"- Commit: {git_commit()}",
        "",
        "Each of ours: Mb/s (ratio to kipoiseq); batched = `extract_one_hot_batch` over B windows per call.",
        "",
        "| FASTA | windows | Mb | kipoiseq Mb/s | "
        + " | ".join(f"ours, {label}" for label in MODES.values())
        + " | in-memory load s |",
        "|---|---|---:|---:|" + "---:|" * len(MODES) + "---:|",
    ]

    def cell(row, key):
        text = fmt(row[key])
        if row["kipoiseq"]:
            text += f" ({row[key] / row['kipoiseq']:,.1f}×)"
        return text + (f" (B = {row['batch']})" if key.endswith("batched") else "")

    for row in rows:
        lines.append(
            f"| {row['fasta']} | {row['windows']} | {row['mb']:.1f} | {fmt(row['kipoiseq'])} | "
            + " | ".join(cell(row, key) for key in MODES)
            + f" | {row['load']:.2f} |"
        )
    measured = [row for row in rows if row["kipoiseq"]]
    lines.append(
        f"| (string in memory) | one-hot only, 1 Mb string | 1.0 | {fmt(encode_rows['kipoiseq'])} | "
        f"{fmt(encode_rows['ours'])} ({ratio(encode_rows['ours'], encode_rows['kipoiseq'])}) |"
        + " – |" * len(MODES)
    )
    lines.append("")
    if measured:
        parts = []
        for label, keys, fasta in GOAL_GROUPS:
            found = lowest(measured, keys, fasta)
            if found:
                parts.append(f"{label}: {'met' if found[1] >= GOAL else 'NOT met'} (lowest {found[1]:.1f}×)")
        lines.append("**10× goal** (every row): " + "; ".join(parts) + ".")
        lines.append("")
        lines.extend([
            "Where the goal is missed, the time is not spent in the one-hot step (kipoiseq 0.7.1's `one_hot_dna`",
            "is already a vectorised lookup table: see the one-hot-only row). Random windows read from bgzip",
            "cost both libraries the inflation of a 64-kb BGZF block each (pyfaidx through Biopython), so",
            "only reading each contig once (in memory) gets far ahead there. From a plain FASTA, 10× of",
            "kipoiseq's time per 1-kb window leaves a few microseconds for a Python call, the read, the check",
            "for non-ACGTN characters and a fresh 16-kB float32 array; one call per window costs more than",
            "that on this machine, one call per batch of windows (one gather and one lookup pass) does not.",
            "Numbers vary by up to 2x between runs on the shared machine.",
        ])
    else:
        lines.append("kipoiseq was not installed, so no ratio was measured.")
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", default=str(DEFAULT_FASTA), help="bgzip FASTA (default: shared chr20)")
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--small-length", type=int, default=1000)
    parser.add_argument("--large-count", type=int, default=60)
    parser.add_argument("--large-length", type=int, default=196_608)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plain", action="store_true", help="skip the decompressed-FASTA rows")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows, encode_rows, kipoiseq = run(args)
    command = "nice python benchmarks/onehot_extraction.py" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    section = render(rows, encode_rows, kipoiseq, command.strip())
    print(section)
    if not args.no_write:
        update_markdown(args.output, section, SECTION)
        print(f"updated {args.output}", file=sys.stderr)
    return rows, encode_rows, kipoiseq


if __name__ == "__main__":
    main()
