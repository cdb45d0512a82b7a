"""Benchmark: variant scoring throughput (variants/s) through `score_variants`.

Rows:
* LOGO zero-shot log-likelihood ratio (`logo_5mer_chr20_mlm`, 1,004-bp
  windows, 10 frame/strand views per variant) on dbSNP common SNVs of chr20;
* Enformer, official architecture (251M parameters, random weights: speed
  does not depend on the values), 196,608-bp windows, reference + alternative
  forward passes, with and without reverse-complement averaging;
* the tiny Enformer preset (pipeline overhead).

Wall-clock time of the whole stream (window extraction, encoding, forward
passes, scoring); peak RSS of the process. The table is printed and written
into the `## Variant scoring` section of docs/benchmarks.md.

Usage (from the repository root):
    nice python benchmarks/variant_scoring.py
"""

import argparse
import itertools
import pathlib
import resource
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import git_commit, head_vcf, machine_description, update_markdown  # noqa: E402

from kipoi_genome.models import load_model  # noqa: E402
from kipoi_genome.interpret import ScoringSummary, score_variants  # noqa: E402
from kipoi_genome.interpret.logo_scorers import as_variant_scorer  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SECTION = "## Variant scoring"


def time_scoring(model_name, fasta, vcf, batch_size, reverse_complement, precision):
    # Full-size Enformer with random weights (speed does not depend on them; no download of the official ones).
    model = as_variant_scorer(load_model(model_name, precision=precision, load_weights=model_name != "enformer"))
    summary = ScoringSummary()
    stream = score_variants(
        model, fasta, vcf, batch_size=batch_size, reverse_complement=reverse_complement,
        summary=summary, progress=False,
    )
    # The stream yields one variant at a time but scores a batch at once: the
    # whole first batch (one-off tracing) is consumed before the clock starts.
    untimed = sum(1 for _ in itertools.islice(stream, batch_size))
    if not untimed:
        return 0, 0.0
    start = time.perf_counter()
    rest = sum(1 for _ in stream)
    seconds = time.perf_counter() - start
    return rest, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta", default=str(SHARED / "reference" / "GRCh37_chr20.fa.gz"))
    parser.add_argument("--vcf", default=str(SHARED / "variants" / "GRCh37_chr20_common_snps.vcf.gz"))
    parser.add_argument("--logo-variants", type=int, default=257)
    parser.add_argument("--enformer-variants", type=int, default=3)
    parser.add_argument("--tiny-variants", type=int, default=257)
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--no-rc", action="store_true", help="skip the reverse-complement row")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plan = [
            ("LOGO zero-shot LLR (`logo_5mer_chr20_mlm`)", "logo_5mer_chr20_mlm", args.logo_variants, 64, False, "float32"),
            ("Enformer tiny preset (4,096 bp)", "enformer_tiny", args.tiny_variants, 16, False, "float32"),
            ("Enformer full size (196,608 bp), float32", "enformer", args.enformer_variants, 1, False, "float32"),
            ("Enformer full size, bfloat16 (`--precision bfloat16`)", "enformer", args.enformer_variants, 1, False, "bfloat16"),
            ("Enformer full size, + reverse complement", "enformer", args.enformer_variants, 1, True, "float32"),
        ]
        if args.no_rc:
            plan = plan[:-1]
        for label, name, count, batch, rc, precision in plan:
            if count <= batch:  # the first batch is untimed (tracing)
                continue
            vcf = head_vcf(args.vcf, count, tmp)
            scored, seconds = time_scoring(name, args.fasta, vcf, batch, rc, precision)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows.append((label, scored, batch, seconds, scored / seconds, rss))
            print(f"{label}: {scored} variants in {seconds:.1f} s", file=sys.stderr)

    command = "nice python benchmarks/variant_scoring.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    lines = [
        SECTION,
        "",
        "`score_variants` end to end (FASTA windows, one-hot or k-mer encoding, forward passes, scores)",
        "on dbSNP common SNVs of GRCh37 chr20, wall clock of the batches after the first (tracing excluded).",
        "",
        f"- Command: `{command.strip()}`",
        f"- Machine: {machine_description()}; CPU only, shared with other jobs",
        f"- Commit: {git_commit()}",
        "",
        "| model | variants timed | batch | seconds | variants/s | peak RSS so far (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {n} | {batch} | {seconds:.1f} | {rate:.3g} | {rss:,.0f} |"
        for label, n, batch, seconds, rate, rss in rows
    ]
    lines += [
        "",
        "Memory is bounded by one batch: windows are read, scored and written one batch at a time",
        "(`pytest --run-large` scores all 7,273 common SNVs through the same stream). Peak RSS is cumulative over the rows",
        "(one process); the full-size Enformer rows dominate it.",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        update_markdown(args.output, section, SECTION)
    return rows


if __name__ == "__main__":
    main()
