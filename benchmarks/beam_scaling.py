"""Benchmark: `score-variants` without Beam vs `--runner direct` (1 and 2 workers).

Each row is one `kipoi-genome score-variants` command in a fresh process,
timed end to end (Python and TensorFlow start-up, model loading, reading,
scoring, writing, and for Beam: planning, the pipeline and the merge), on
dbSNP common SNVs of GRCh37 chr20 with the LOGO masked-LM preset. The Beam
outputs are checked against the single-process one (same rows, max |diff|).
The table is printed and written into the `## Beam` section of
docs/benchmarks.md; docs/scale.md uses the per-variant times for sizing.

Usage (from the repository root; about 4 minutes on 2 CPU cores):
    nice python benchmarks/beam_scaling.py
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import git_commit, head_vcf, machine_description, update_markdown  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SECTION = "## Beam"
MODES = (
    ("single process (no `--runner`)", []),
    ("Beam in-process (`--runner direct`)", ["--runner", "direct"]),
    (
        "Beam, 2 worker processes (`--runner direct --beam-option direct_num_workers=2 "
        "--beam-option direct_running_mode=multi_processing`)",
        ["--runner", "direct", "--beam-option", "direct_num_workers=2",
         "--beam-option", "direct_running_mode=multi_processing"],
    ),
)


def read_scores(path):
    import numpy as np

    lines = pathlib.Path(path).read_text().splitlines()[1:]
    keys = [tuple(line.split("\t")[:5]) for line in lines]
    values = np.array([[float(v) for v in line.split("\t")[5:]] for line in lines])
    return keys, values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", default=str(SHARED / "reference" / "GRCh37_chr20.fa.gz"))
    parser.add_argument("--vcf", default=str(SHARED / "variants" / "GRCh37_chr20_common_snps.vcf.gz"))
    parser.add_argument("--model", default="logo_5mer_chr20_mlm")
    parser.add_argument("--variants", type=int, default=512)
    parser.add_argument("--shard-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        vcf = head_vcf(args.vcf, args.variants, tmp)
        reference = None
        for index, (label, extra) in enumerate(MODES):
            out = pathlib.Path(tmp) / f"scores{index}.tsv"
            command = [
                sys.executable, "-m", "kipoi_genome.cli.main", "score-variants", "--model", args.model,
                "--fasta", args.fasta, "--vcf", vcf, "--output", str(out), "--batch-size", str(args.batch_size),
                "--no-progress", *extra,
            ]
            if extra:
                command += ["--shard-size", str(args.shard_size)]
            start = time.perf_counter()
            subprocess.run(command, check=True, cwd=REPO, capture_output=True)
            seconds = time.perf_counter() - start
            keys, values = read_scores(out)
            if reference is None:
                reference = (keys, values)
                diff = 0.0
            else:
                assert keys == reference[0], f"{label}: rows differ from the single-process output"
                diff = float(abs(values - reference[1]).max()) if len(values) else 0.0
            rows.append((label, len(keys), seconds, len(keys) / seconds, diff))
            print(f"{label}: {len(keys)} variants in {seconds:.1f} s (max |diff| {diff:.2g})", file=sys.stderr)

    command = "nice python benchmarks/beam_scaling.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    shards = -(-rows[0][1] // args.shard_size)
    lines = [
        SECTION,
        "",
        f"`kipoi-genome score-variants --model {args.model}` on the first {args.variants} dbSNP common SNVs of",
        f"GRCh37 chr20 (batch {args.batch_size}; Beam: {shards} shards of {args.shard_size}), each command in a fresh",
        "process, wall clock end to end: start-up, model loading (once per worker process), scoring, output.",
        "Max |diff| compares the merged Beam output with the single-process one (same rows in both).",
        "",
        f"- Command: `{command.strip()}`",
        f"- Machine: {machine_description()}; CPU only, shared with other jobs (1-minute load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after the run)",
        f"- Commit: {git_commit()}",
        "",
        "| mode | variants | seconds | variants/s | max abs diff vs single process |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {label} | {n} | {seconds:.1f} | {rate:.3g} | {diff:.2g} |" for label, n, seconds, rate, diff in rows]
    lines += [
        "",
        "On 2 cores Beam cannot be faster: the single-process run already keeps both cores busy in",
        "TensorFlow, and each Beam worker process pays its own start-up and model loading. Beam is the",
        "path to many machines (docs/scale.md), where shards run in parallel on separate workers.",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        update_markdown(args.output, section, SECTION)
    return rows


if __name__ == "__main__":
    main()
