"""The benchmark harness runs end to end (tiny sizes) and renders its tables."""

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("peers", [False, True], ids=["ours-only", "with-peers-if-installed"])
def test_run_py_quick_renders_summary_and_sections(tmp_path, peers):
    if peers:
        pytest.importorskip("enformer_pytorch")
        pytest.importorskip("transformers")
    output = tmp_path / "benchmarks.md"
    output.write_text(
        "# Benchmarks\n\n## Summary\n\nold\n\n- Commit: abc1234\n\n"
        "| benchmark | ours | peer | ratio | goal | goal met? |\n|---|---:|---:|---:|---|---|\n"
        "| One-hot extraction, in-memory (Mb/s) | 453 | 37.8 | 12.0× | ≥ 10× | **met** |\n"
        "| LOGO MLM training, stale row | 1 | 1 | 1.0× | ≥ 1.5× | **NOT met** |\n"
        "\n## Other\n\nkept\n"
    )
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--only", "training,logo", "--output", str(output)]
        + ([] if peers else ["--no-peers"]),
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = output.read_text()
    assert "old" not in text and "## Other\n\nkept" in text  # sections replaced in place, others kept
    # Summary rows of the sections not rerun are carried over, marked with their commit.
    assert "| One-hot extraction, in-memory (Mb/s) (from commit abc1234) | 453 | 37.8 | 12.0× |" in text
    assert "stale row" not in text and "carried over from the previous summary" in text
    for title in ("## Summary", "## Enformer training step", "## LOGO masked-LM training"):
        assert text.count(title) == 1
    summary = text[text.index("## Summary"): text.index("## Other")]
    rows = [line for line in summary.splitlines() if line.startswith("| Enformer training") or line.startswith("| LOGO MLM")]
    assert len(rows) == 4
    for row in rows:
        ours = row.split("|")[2].strip()
        assert float(ours.replace(",", "")) > 0  # a measured number, whether or not a peer is installed
    assert "88,636" in text  # the tiny Enformer's parameter count in the training table
    assert "1,326,786" in text  # LOGO k = 5 masked LM
    if not peers:
        assert all(row.split("|")[4].strip() == "–" for row in rows)  # no ratio without a peer


def test_worker_configs_equal_the_package_presets():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import workers
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from kipoi_genome.models.presets import get_preset
    from kipoi_genome.models.logo.logo_presets import BACKBONE_1KB

    assert workers.ENFORMER_CONFIGS["tiny"] == get_preset("enformer_tiny").config
    assert workers.LOGO == BACKBONE_1KB


def test_onehot_verdicts_per_mode_and_fasta_kind():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import onehot_extraction
    finally:
        sys.path.remove(str(REPO / "benchmarks"))

    def row(fasta, kipoiseq, file, file_batched, memory, memory_batched):
        return {"fasta": fasta, "windows": "2 × 1 bp", "mb": 1.0, "load": 0.1, "batch": 64, "kipoiseq": kipoiseq,
                "file": file, "file_batched": file_batched, "memory": memory, "memory_batched": memory_batched}

    rows = [row("bgzip", 5.0, 6.0, 6.5, 150.0, 500.0), row("plain", 40.0, 150.0, 420.0, 160.0, 400.0),
            row("plain", 90.0, 950.0, 900.0, 1700.0, 1300.0)]
    worst, ratio = onehot_extraction.lowest(rows, ("file", "file_batched"), "plain")
    assert worst is rows[1] and ratio == pytest.approx(420 / 40)  # 10.5 < 950 / 90
    assert onehot_extraction.lowest(rows, ("memory",))[1] == pytest.approx(4.0)
    assert onehot_extraction.lowest(rows, ("file",), "missing") is None
    text = onehot_extraction.render(rows, {"ours": 700.0, "kipoiseq": 100.0}, ("I", "F", "o", "0.7.1"), "cmd")
    assert "| plain | 2 × 1 bp | 1.0 | 40.0 | 150.0 (3.8×) | 420.0 (10.5×) (B = 64) |" in text
    assert "in-memory, best of per-window and batched: met (lowest 10.0×)" in text
    assert "plain FASTA read per request, best of per-window and batched: met (lowest 10.5×)" in text
    assert "bgzip FASTA read per request (a BGZF block inflated per window), best of per-window and batched: " \
        "NOT met (lowest 1.3×)" in text
    assert "in-memory, per window: NOT met (lowest 4.0×)" in text


def test_interpret_rows_are_forward_pass_ratios_with_upper_bound_verdicts(monkeypatch):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import run
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    results = {
        "float32": {"forward_seconds": 20.0, "variant_seconds": 27.0, "ism_seconds_per_substitution": 11.0,
                    "peak_rss_gb": 3.0},
        "bfloat16": {"forward_seconds": 10.0, "variant_seconds": 16.0, "ism_seconds_per_substitution": 4.0,
                     "peak_rss_gb": 2.0},
        "gradient": {"seconds": 95.0, "peak_rss_gb": 5.5, "bases_with_nonzero_score": 196_000},
    }
    monkeypatch.setattr(
        run, "run_worker",
        lambda task, precision, size: results["gradient" if task == "ours_enformer_gradient" else precision],
    )
    args = run.main.__globals__["argparse"].Namespace(quick=False, command="cmd", software="sw", emulated_bfloat16=False)
    summary = []
    monkeypatch.setattr(run, "cpu_flags", lambda: [])  # no bfloat16 instructions: float32 only
    run.bench_interpret(args, summary)
    assert len(summary) == 3 and not any("bfloat16" in row[0] for row in summary)
    summary = []
    monkeypatch.setattr(run, "cpu_flags", lambda: ["avx512f", "avx512_bf16"])
    text, _ = run.bench_interpret(args, summary)
    rows = {row[0]: row for row in summary}
    assert all(run._section_of(label) == "interpret" for label in rows)
    variant32 = rows["Enformer interpretation, variant effect, float32 (forward passes per variant)"]
    assert variant32[1:] == ["1.35", "2 (full passes, before)", "1.48×", "≤ 1.5 passes", "**met**"]
    assert rows["Enformer interpretation, variant effect, bfloat16 (forward passes per variant)"][-1] == "**NOT met**"
    assert rows["Enformer interpretation, ISM, float32 (forward passes per substitution)"][1::4] == ["0.55", "**NOT met**"]
    assert rows["Enformer interpretation, ISM, bfloat16 (forward passes per substitution)"][1::4] == ["0.40", "**met**"]
    gradient = rows["Enformer interpretation, gradient × input, float32, batch 1 (peak RSS GB; s)"]
    assert gradient[1] == "5.50; 95 s" and gradient[-1] == "**met**"
    assert "| one variant effect (reference + alternative) | 27.00 s = 1.35 passes | 16.00 s = 1.60 passes |" in text
    # --emulated-bfloat16 on a CPU without bfloat16 instructions: the rows say so.
    monkeypatch.setattr(run, "cpu_flags", lambda: ["avx2"])
    args.emulated_bfloat16 = True
    summary = []
    text, _ = run.bench_interpret(args, summary)
    labels = [row[0] for row in summary]
    assert "Enformer interpretation, ISM, bfloat16 (emulated) (forward passes per substitution)" in labels
    assert "bfloat16 ran emulated" in text and len(summary) == 5
