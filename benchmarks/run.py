"""Runs the benchmark suite, prints one summary table and writes docs/benchmarks.md.

Sections (each timed configuration in a fresh process, ours and the peer a
user would pick instead, in the same run):

* `inference`: full-size Enformer (196,608 bp), batch 1 and 2, float32 and
  bfloat16 (ours: `load_model(..., precision="bfloat16")`; enformer-pytorch:
  `torch.autocast("cpu", torch.bfloat16)`), ours also XLA-compiled; seconds
  per sequence, peak RSS, achieved FLOP/s against the measured matmul peak.
* `training`: an Enformer training step, tiny and medium configurations,
  ours vs enformer-pytorch with identical sizes (parameter counts printed).
* `logo`: LOGO masked-LM training throughput, batch 64 x 200 tokens, ours vs
  Hugging Face `AlbertForMaskedLM` with LOGO's configuration.
* `onehot`: `benchmarks/onehot_extraction.py` (vs kipoiseq).
* `variants`: `benchmarks/variant_scoring.py`.
* `beam`: `benchmarks/beam_scaling.py` (`score-variants` without `--runner`
  vs `--runner direct` with 1 and 2 workers).
* `interpret`: full-size Enformer variant effect and ISM substitution cost in
  forward passes (incremental passes, float32 and bfloat16), and the time and
  peak RSS of gradient x input (float32, batch 1).

Peers are optional (`pip install -e ".[bench]"`, with `torch==2.13.0`
installed first); missing ones are reported as such.

Usage (from the repository root; about 25 minutes on 2 CPU cores):
    python benchmarks/run.py                  # everything, writes docs/benchmarks.md
    python benchmarks/run.py --only logo,training --no-write
    python benchmarks/run.py --quick --no-write   # tiny sizes: checks the harness in a minute
"""

import argparse
import importlib.metadata
import importlib.util
import pathlib
import platform
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import REPO, cpu_flags, git_commit, machine_description, run_worker, update_markdown  # noqa: E402

SECTIONS = ("inference", "training", "logo", "onehot", "variants", "interpret", "beam")
# How each section's summary rows begin (to carry rows over in partial runs).
ROW_PREFIXES = {
    "inference": "Enformer inference",
    "training": "Enformer training step",
    "logo": "LOGO MLM training",
    "onehot": "One-hot extraction",
    "variants": "Variant scoring",
    "interpret": "Enformer interpretation",
    "beam": "Beam",
}
WHOLE = "ours, whole sequence at once"
GOALS = {"inference": 1.5, "logo": 1.5, "onehot": 10.0}
# Upper bounds: forward passes per variant / per ISM substitution, GB of gradient x input.
INTERPRET_GOALS = {"variant": 1.5, "ism": 0.5, "gradient_gb": 8.0}


def versions():
    found = {}
    for package in ("tensorflow", "keras", "torch", "enformer-pytorch", "transformers", "kipoiseq"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def peer_ready(args, *modules):
    if args.no_peers:
        return False
    return all(importlib.util.find_spec(module) is not None for module in modules)


def fmt(value, digits=3):
    if value is None:
        return "–"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def header(title, text, args):
    return [
        title,
        "",
        *text,
        "",
        f"- Command: `{args.command}`",
        f"- Machine: {machine_description()}; CPU flags: {', '.join(cpu_flags()) or 'none detected'}; no GPU",
        f"- Software: {args.software}",
        f"- Commit: {git_commit()}",
        "",
    ]


def _verdict(ratio, goal, extra=True):
    if ratio is None:
        return "not measured"
    return "**met**" if ratio >= goal and extra else "**NOT met**"


# ----------------------------------------------------------------------------
# (a) Enformer inference
# ----------------------------------------------------------------------------


def bench_inference(args, summary):
    size = "tiny" if args.quick else "full"
    peak = {p: run_worker("matmul_peak", precision=p, size=1024 if args.quick else 4096) for p in ("float32", "bfloat16")}
    flops = run_worker("ours_flops", size=size)
    plan = [("ours", "float32", b, False) for b in (1, 2)] + [("ours", "bfloat16", b, False) for b in (1, 2)]
    plan.append(("ours", "float32", 1, True))
    plan.append((WHOLE, "float32", 1, False))
    if peer_ready(args, "torch", "enformer_pytorch"):
        plan += [("enformer-pytorch", p, b, False) for p in ("float32", "bfloat16") for b in (1, 2)]
    results = {}
    for framework, precision, batch, jit in plan:
        if framework.startswith("ours"):
            chunking = {"inference_chunk_length": None} if framework == WHOLE else {}
            result = run_worker("ours_enformer_inference", precision=precision, batch=batch, jit=jit, size=size,
                                compare=(framework == "ours" and precision == "bfloat16" and batch == 1), **chunking)
        else:
            result = run_worker("peer_enformer_inference", precision=precision, batch=batch, size=size)
        results[framework, precision, batch, jit] = result
        print(f"inference {framework} {precision} B={batch} xla={jit}: {result}", file=sys.stderr)

    total, executed, whole = flops.get("nominal"), flops.get("total"), flops.get("whole_sequence")
    lines = header(
        "## Enformer inference",
        [
            f"{'Tiny preset (4,096 bp; `--quick`)' if args.quick else 'Full-size Enformer (251,221,292 parameters, 196,608 bp in, 896 x 5,313 + 1,643 out)'}, random weights",
            "(speed does not depend on the values), one random one-hot input; wall time of one forward pass",
            "after one untimed warm-up call (tracing, kernel selection), divided by the batch size. Peak RSS",
            "of the whole process (model + activations + framework). Each row runs in its own process.",
            "bfloat16: ours = `load_model(..., precision=\"bfloat16\")` (bfloat16 weights and math, float32 output",
            "heads); enformer-pytorch = `torch.autocast(\"cpu\", torch.bfloat16)` (float32 weights cast per op).",
            "FLOPs are counted from the TensorFlow graph (`kipoi_genome.inference.flops.forward_flops`:",
            f"matrix products and convolutions, 2 per multiply-add): the published model is **{fmt(total / 1e12 if total else None)} TFLOP",
            f"per sequence**; ours executes {fmt(whole / 1e12 if whole else None)} TFLOP on the whole sequence because the attention pooling",
            "computes its logits once on the difference of the two window positions (a softmax over two logits is the",
            "sigmoid of their difference; same outputs, fixture parity unchanged), and "
            f"{fmt(executed / 1e12 if executed else None)} TFLOP by default, where the",
            "convolutional trunk runs over 32,768-bp windows, one after another, each widened by a 384-bp halo that covers the trunk's 259-bp",
            "receptive field (`Enformer(inference_chunk_length=32768)`, the default; outputs equal the",
            "whole-sequence pass, tested), so the `[B, 196,608, 768]` stem activations never exist at once. The",
            f"*{WHOLE}* row turns that off (`inference_chunk_length=None`). GFLOP/s below use the published count for",
            "every row, so they compare wall time on equal work.",
            f"Measured matmul peak ({peak['float32'].get('size', '?')}² `tf.matmul`, best of 5): float32 "
            f"{fmt(peak['float32'].get('gflops'))} GFLOP/s, bfloat16 {fmt(peak['bfloat16'].get('gflops'))} GFLOP/s.",
        ],
        args,
    )
    lines += [
        "| framework | precision | batch | s / sequence | peak RSS (GB) | achieved GFLOP/s | % of matmul peak (same precision) | parameters |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (framework, precision, batch, jit), result in results.items():
        label = framework + (" (XLA)" if jit else "")
        if "error" in result:
            lines.append(f"| {label} | {precision} | {batch} | failed: {result['error']} | | | | |")
            continue
        seconds = result["seconds_per_sequence"]
        achieved = total / seconds / 1e9 if total else None
        top = peak[precision].get("gflops")
        share = f"{100 * achieved / top:.0f} %" if achieved and top else "–"
        lines.append(
            f"| {label} | {precision} | {batch} | {seconds:.2f} | {result['peak_rss_gb']:.2f} | "
            f"{fmt(achieved)} | {share} | {result['parameters']:,} |"
        )
    bf16 = results.get(("ours", "bfloat16", 1, False), {})
    if "pearson_vs_float32" in bf16:
        lines += ["", f"bfloat16 vs float32 outputs of ours (same weights, batch 1, human head): max |diff| / max "
                      f"{bf16['max_relative_error_vs_float32']:.2g}, Pearson r {bf16['pearson_vs_float32']:.6f}."]

    def pair(ours_key, peer_key, label):
        ours, peer = results.get(ours_key, {}), results.get(peer_key, {})
        if "seconds_per_sequence" not in ours or "seconds_per_sequence" not in peer:
            summary.append([f"Enformer inference, {label}", "–", "–", "–", "≥ 1.5×, RSS ≤ peer", "not measured"])
            return
        ratio = peer["seconds_per_sequence"] / ours["seconds_per_sequence"]
        rss_ok = ours["peak_rss_gb"] <= peer["peak_rss_gb"]
        summary.append([
            f"Enformer inference, {label} (s/seq; peak RSS GB)",
            f"{ours['seconds_per_sequence']:.2f} s; {ours['peak_rss_gb']:.2f}",
            f"{peer['seconds_per_sequence']:.2f} s; {peer['peak_rss_gb']:.2f}",
            f"{ratio:.2f}×",
            "≥ 1.5×, RSS ≤ peer",
            _verdict(ratio, GOALS["inference"], rss_ok) + ("" if rss_ok else " (RSS higher)"),
        ])

    for batch in (1, 2):
        pair(("ours", "float32", batch, False), ("enformer-pytorch", "float32", batch, False), f"float32 vs float32, batch {batch}")
        pair(("ours", "bfloat16", batch, False), ("enformer-pytorch", "bfloat16", batch, False), f"bfloat16 vs bfloat16 autocast, batch {batch}")
        pair(("ours", "bfloat16", batch, False), ("enformer-pytorch", "float32", batch, False), f"ours bfloat16 vs peer default float32, batch {batch}")
    return "\n".join(lines) + "\n", results


# ----------------------------------------------------------------------------
# (b) Enformer training step
# ----------------------------------------------------------------------------


def bench_training(args, summary):
    plan = [("tiny", 4, 5), ("medium", 2, 3)] if not args.quick else [("tiny", 2, 2)]
    peer = peer_ready(args, "torch", "enformer_pytorch")
    rows = []
    lines = header(
        "## Enformer training step",
        [
            "One optimizer step (forward, Poisson loss on the human head, backward, Adam) on a fixed random",
            "batch, best of N after 2 warm-up steps, float32. Same sizes in both frameworks (equal parameter",
            "counts): *tiny* = 48 channels, 1 transformer layer, 2 heads, 4,096 bp -> 16 bins (8 + 4 tracks);",
            "*medium* = 384 channels, 4 layers, 8 heads, 32,768 bp -> 128 bins (128 tracks). Peer: enformer-pytorch",
            "`model(x, head='human', target=y)` (its Poisson loss) + `torch.optim.Adam`. No goal is set for this row.",
        ],
        args,
    )
    lines += ["| config | batch | ours s/step | ours peak RSS (GB) | enformer-pytorch s/step | peer peak RSS (GB) | speed-up | parameters (ours / peer) |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for size, batch, steps in plan:
        ours = run_worker("ours_enformer_train", size=size, batch=batch, steps=steps)
        theirs = run_worker("peer_enformer_train", size=size, batch=batch, steps=steps) if peer else {"error": "not installed"}
        print(f"training {size}: ours {ours} peer {theirs}", file=sys.stderr)
        ratio = theirs["seconds_per_step"] / ours["seconds_per_step"] if "seconds_per_step" in theirs and "seconds_per_step" in ours else None
        lines.append(
            f"| {size} | {batch} | {fmt(ours.get('seconds_per_step'))} | {fmt(ours.get('peak_rss_gb'))} | "
            f"{fmt(theirs.get('seconds_per_step')) if 'error' not in theirs else theirs['error']} | {fmt(theirs.get('peak_rss_gb'))} | "
            f"{fmt(ratio)}{'×' if ratio else ''} | {ours.get('parameters', 0):,} / {theirs.get('parameters', 0):,} |"
        )
        summary.append([f"Enformer training step, {size} (s/step)", fmt(ours.get("seconds_per_step")),
                        fmt(theirs.get("seconds_per_step")), f"{ratio:.2f}×" if ratio else "–", "(none)", "–"])
        rows.append((size, ours, theirs))
    return "\n".join(lines) + "\n", rows


# ----------------------------------------------------------------------------
# (c) LOGO masked-LM training
# ----------------------------------------------------------------------------


def bench_logo(args, summary):
    batch, steps = (8, 2) if args.quick else (64, 8)
    peer = peer_ready(args, "torch", "transformers")
    lines = header(
        "## LOGO masked-LM training",
        [
            f"Training throughput in tokens/s at batch {batch} x 200 tokens (1 kb windows at k = 5), one optimizer",
            "step = forward + loss + backward + AdamW on a fixed batch with 15 % of tokens selected, best of",
            f"{steps} steps after 3 warm-up steps. Same model in both: LOGO k = 5 (vocabulary 3,138, E 128 -> H 256,",
            "one shared block applied twice, 8 heads, FFN 1,024, 512 positions, dropout 0; 1,326,786 parameters",
            "with the MLM head). Both compute the same loss and gradients. Ours (`LogoMaskedLM`) evaluates the",
            "vocabulary projection, and the last pass's queries, attention output, LayerNorms and feed-forward,",
            "at the masked positions only (keys and values at every position; equal to the full pass, tested);",
            "HF `AlbertForMaskedLM` computes all of them at every position and ignores labels -100, which is how",
            "its users train it. bfloat16 = mixed precision with float32 master weights in both (Keras",
            "`mixed_bfloat16` policy; `torch.autocast(\"cpu\", torch.bfloat16)`).",
        ],
        args,
    )
    lines += ["| framework | precision | tokens/s | s/step | peak RSS (GB) | parameters |", "|---|---|---:|---:|---:|---:|"]
    results = {}
    for precision in ("float32", "bfloat16"):
        results["ours", precision] = run_worker("ours_logo_mlm", precision=precision, batch=batch, steps=steps)
        results["hf-albert", precision] = (
            run_worker("peer_logo_mlm", precision=precision, batch=batch, steps=steps) if peer else {"error": "not installed"}
        )
    for (framework, precision), result in results.items():
        print(f"logo {framework} {precision}: {result}", file=sys.stderr)
        label = "ours (`LogoMaskedLM`)" if framework == "ours" else "HF `AlbertForMaskedLM`" + (" (autocast)" if precision == "bfloat16" else "")
        if "error" in result:
            lines.append(f"| {label} | {precision} | {result['error']} | | | |")
            continue
        lines.append(f"| {label} | {precision} | {result['tokens_per_second']:,.0f} | {result['seconds_per_step']:.3f} | "
                     f"{result['peak_rss_gb']:.2f} | {result['parameters']:,} |")
    for ours_p, peer_p in (("float32", "float32"), ("bfloat16", "bfloat16"), ("bfloat16", "float32")):
        ours, theirs = results["ours", ours_p], results["hf-albert", peer_p]
        ratio = theirs and "tokens_per_second" in theirs and "tokens_per_second" in ours and ours["tokens_per_second"] / theirs["tokens_per_second"]
        summary.append([
            f"LOGO MLM training, ours {ours_p} vs HF ALBERT {peer_p} (tokens/s)",
            fmt(ours.get("tokens_per_second")), fmt(theirs.get("tokens_per_second")),
            f"{ratio:.2f}×" if ratio else "–", "≥ 1.5×", _verdict(ratio or None, GOALS["logo"]),
        ])
    return "\n".join(lines) + "\n", results


# ----------------------------------------------------------------------------
# (d) one-hot, (e) variant scoring: the standalone scripts
# ----------------------------------------------------------------------------


def bench_onehot(args, summary):
    import onehot_extraction

    argv = ["--small-count", "200", "--large-count", "6", "--repeats", "2", "--no-plain"] if args.quick else []
    rows, _, kipoiseq = onehot_extraction.main(argv + ["--output", args.output] + (["--no-write"] if args.no_write else []))
    measured = [r for r in rows if r["kipoiseq"]]
    if not measured:
        summary.append(["One-hot extraction (Mb/s)", "–", "kipoiseq not installed", "–", "≥ 10×", "not measured"])
        return
    for label, keys, fasta in onehot_extraction.GOAL_GROUPS[:3]:
        found = onehot_extraction.lowest(measured, keys, fasta)
        if found:
            worst, ratio = found
            best = max(worst[key] for key in keys)
            summary.append([f"One-hot extraction, {label}; lowest row: {worst['fasta']} {worst['windows']} (Mb/s)",
                            fmt(best), fmt(worst["kipoiseq"]), f"{ratio:.1f}×", "≥ 10×", _verdict(ratio, GOALS["onehot"])])


def bench_variants(args, summary, inference):
    import variant_scoring

    # The first batch of each model is untimed: LOGO 64 + 128 timed, tiny Enformer 16 + 64, full Enformer 1 + 1.
    argv = ["--logo-variants", "192", "--tiny-variants", "80", "--enformer-variants", "2", "--no-rc"]
    if args.quick:
        argv = ["--logo-variants", "72", "--tiny-variants", "20", "--enformer-variants", "0", "--no-rc"]
    rows = variant_scoring.main(argv + ["--output", args.output] + (["--no-write"] if args.no_write else []))
    peer_seconds = (inference or {}).get(("enformer-pytorch", "float32", 1, False), {}).get("seconds_per_sequence")
    source = "the inference rows"
    if peer_seconds is None and inference is None:  # inference not rerun: its carried summary row
        for cells, commit in previous_summary(args.output).get("inference", []):
            if cells[0].startswith("Enformer inference, float32 vs float32, batch 1") and " s;" in cells[2]:
                peer_seconds = float(cells[2].split(" s;")[0].replace(",", ""))
                source = f"the inference rows of commit {commit}"
    for label, scored, _, _, rate, _ in rows:
        if not scored:
            continue
        peer_rate = None
        if label.startswith("Enformer full size") and peer_seconds:
            peer_rate = 1.0 / (2 * peer_seconds)
        summary.append([
            f"Variant scoring, {label} (variants/s)", fmt(rate),
            f"{fmt(peer_rate)} (enformer-pytorch float32, 2 forward passes per variant, from {source})" if peer_rate else "no packaged peer",
            f"{rate / peer_rate:.2f}×" if peer_rate else "–", "(none)", "–",
        ])


# ----------------------------------------------------------------------------
# (f) Enformer interpretation: incremental variant / ISM passes, recomputed gradients
# ----------------------------------------------------------------------------


def _at_most(value, bound):
    if value is None:
        return "not measured"
    return "**met**" if value <= bound else "**NOT met**"


def bench_interpret(args, summary):
    size = "tiny" if args.quick else "full"
    # Without bfloat16 hardware (AVX-512 BF16 / AMX) TensorFlow emulates it, slower than float32.
    hardware_bf16 = any(flag in cpu_flags() for flag in ("avx512_bf16", "amx_bf16"))
    bf16 = not args.quick and (hardware_bf16 or args.emulated_bfloat16)
    emulated = bf16 and not hardware_bf16
    precisions = ("float32", "bfloat16") if bf16 else ("float32",)
    gradient = run_worker("ours_enformer_gradient", precision="float32", size=size)
    print(f"interpret gradient: {gradient}", file=sys.stderr)
    passes = {}
    for precision in precisions:
        passes[precision] = run_worker("ours_enformer_interpret", precision=precision, size=size)
        print(f"interpret {precision}: {passes[precision]}", file=sys.stderr)
    lines = header(
        "## Enformer interpretation",
        [
            f"{'Tiny preset (4,096 bp; `--quick`)' if args.quick else 'Full-size Enformer (196,608 bp)'}, random weights, batch 1, each precision in its own",
            "process, after one untimed reference pass (tracing, graph optimisation); each time is one call.",
            "*Variant effect*: the calls `predict_pairs_averaged` (what `score-variants` runs) makes for an SNV at",
            "the window centre, timed in one go: the reference trunk and transformer + heads (this half is the",
            "*forward pass* row), then the alternative's conv trunk over the 1,664-bp window its receptive field",
            "touches, spliced into the reference trunk output, and the transformer + heads",
            "(`kipoi_genome.interpret.incremental`; equal to the full pass, tested). Before: 2 full passes.",
            "*ISM substitution*: one batch of substitutions as `in_silico_mutagenesis` runs it after its single",
            "reference pass, divided by the batch size (the reference pass is shared by all 3 x width",
            "substitutions of a call). Before: 1 full pass each. *Gradient x input*: `gradient_times_input`",
            "for the human head's central bin, all tracks (the `interpret` default), activations recomputed",
            "piece by piece in the backward pass (`kipoi_genome.interpret.recompute`; equal to the plain",
            "gradient, tested); peak RSS of the whole process. The plain gradient tape was killed by the kernel",
            "at 23.6 GB after 6 minutes (issue 19; not rerun here: the machine has 24 GB).",
            *([] if bf16 or args.quick else [
                "bfloat16 was not measured: this CPU has no bfloat16 instructions (AVX-512 BF16 / AMX), where",
                "TensorFlow emulates bfloat16 more slowly than float32."]),
            *([
                "bfloat16 ran emulated (`--emulated-bfloat16`): this CPU has no bfloat16 instructions, so its",
                "seconds are slower than float32's and say nothing about bfloat16 hardware; the passes per variant",
                "or substitution (a ratio within one process) are what the goal is about."] if emulated else []),
        ],
        args,
    )
    lines += ["| measurement | " + " | ".join(precisions) + " |", "|---|" + "---:|" * len(precisions)]

    def cell(result, key, per_forward=True):
        if "error" in result:
            return f"failed: {result['error']}"
        seconds = result[key]
        if not per_forward or key == "forward_seconds":
            return f"{seconds:.2f} s"
        return f"{seconds:.2f} s = {seconds / result['forward_seconds']:.2f} passes"

    for label, key in (("one forward pass", "forward_seconds"), ("one variant effect (reference + alternative)", "variant_seconds"),
                       ("one ISM substitution", "ism_seconds_per_substitution")):
        lines.append(f"| {label} | " + " | ".join(cell(passes[p], key) for p in precisions) + " |")
    lines.append("| peak RSS of the process (GB) | " + " | ".join(
        f"{passes[p]['peak_rss_gb']:.2f}" if "error" not in passes[p] else "–" for p in precisions) + " |")
    lines += ["", "| gradient x input | seconds | peak RSS (GB) | bases with a non-zero score |", "|---|---:|---:|---:|"]
    if "error" in gradient:
        lines.append(f"| float32, batch 1 | failed: {gradient['error']} | | |")
    else:
        lines.append(f"| float32, batch 1 | {gradient['seconds']:.1f} | {gradient['peak_rss_gb']:.2f} | "
                     f"{gradient['bases_with_nonzero_score']:,} |")
        lines += ["", "With random weights the attention output projections start at zero (as in the official code), so",
                  "only the explained bin's own token carries gradient: 128 bp plus the trunk's 259-bp receptive",
                  "field each side = 646 bases. The transformer's backward pass is computed all the same."]

    for precision in precisions:
        result = passes[precision]
        ok = "error" not in result
        for what, key, before, bound in (("variant effect", "variant_seconds", 2.0, INTERPRET_GOALS["variant"]),
                                         ("ISM", "ism_seconds_per_substitution", 1.0, INTERPRET_GOALS["ism"])):
            ratio = result[key] / result["forward_seconds"] if ok else None
            unit = "variant" if what == "variant effect" else "substitution"
            summary.append([
                f"Enformer interpretation, {what}, {precision}{' (emulated)' if emulated and precision == 'bfloat16' else ''} (forward passes per {unit})",
                f"{ratio:.2f}" if ratio else "–",
                f"{before:g} (full passes, before)",
                f"{before / ratio:.2f}×" if ratio else "–",
                f"≤ {bound:g} passes",
                _at_most(ratio, bound),
            ])
    rss = gradient.get("peak_rss_gb")
    summary.append([
        "Enformer interpretation, gradient × input, float32, batch 1 (peak RSS GB; s)",
        f"{rss:.2f}; {gradient['seconds']:.0f} s" if rss else "–",
        "plain tape killed at 23.6 GB (issue 19, not rerun)",
        "–",
        f"≤ {INTERPRET_GOALS['gradient_gb']:g} GB",
        _at_most(rss, INTERPRET_GOALS["gradient_gb"]),
    ])
    return "\n".join(lines) + "\n", {"passes": passes, "gradient": gradient}


def bench_beam(args, summary):
    import beam_scaling

    argv = ["--variants", "96", "--shard-size", "32"] if args.quick else []
    rows = beam_scaling.main(argv + ["--output", args.output] + (["--no-write"] if args.no_write else []))
    single = rows[0][3]
    for label, _, _, rate, _ in rows[1:]:
        summary.append([f"Beam score-variants, {label.split(' (')[0]} vs single process (variants/s, end to end)",
                        fmt(rate), f"{fmt(single)} (single process)", f"{rate / single:.2f}×", "(none)", "–"])


# ----------------------------------------------------------------------------


CARRIED = " (from commit "


def _section_of(label):
    """The section whose summary rows begin like `label` (None if none)."""
    return next((name for name, prefix in ROW_PREFIXES.items() if label.startswith(prefix)), None)


def previous_summary(path):
    """`{section: [(row cells, commit)]}` of the Summary table already in `path`.

    Each row's commit is the one it was measured at: its own `(from commit X)`
    mark (removed from the cells) if it was carried over before, else the
    summary's `- Commit:` line.
    """
    path = pathlib.Path(path)
    text = path.read_text() if path.exists() else ""
    start = text.find("## Summary\n")
    if start == -1:
        return {}
    end = text.find("\n## ", start + 1)
    block = text[start : end if end != -1 else len(text)].splitlines()
    commit = next((line.split(": ", 1)[1] for line in block if line.startswith("- Commit: ")), None)
    rows = {}
    for line in block:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or cells[0] == "benchmark" or set(cells[0]) <= set("-:"):
            continue
        section = _section_of(cells[0])
        if section is not None:
            label, _, measured = cells[0].partition(CARRIED)
            rows.setdefault(section, []).append(([label, *cells[1:]], measured.rstrip(")") or commit))
    return rows


def render_summary(summary, args, chosen=SECTIONS):
    """The Summary section; rows of sections not in `chosen` are carried over
    from the Summary already in `args.output` (and say from which commit)."""
    text = [
        "Ours vs the peer a user would pick instead, measured in the same run on the same machine (details in",
        "the sections below). Ratios are speed-ups (> 1: ours faster). bfloat16 rows use each framework's",
        "mixed-precision path (ours: `--precision bfloat16` / `load_model(..., precision=\"bfloat16\")`).",
        "No GPU was lent to this project's runs, so there are no GPU rows.",
    ]
    rows = list(summary)
    skipped = [name for name in SECTIONS if name not in chosen]
    if skipped:
        previous = previous_summary(args.output)
        carried = [name for name in skipped if previous.get(name)]
        if carried:
            text += [
                "",
                f"Rows of {', '.join(f'`{name}`' for name in carried)} were not rerun by this command: they are "
                "carried over from the previous summary, each marked with the commit it was measured at.",
            ]
            by_section = {name: [row for row in summary if _section_of(row[0]) == name] for name in SECTIONS}
            for name in carried:
                by_section[name] = [[f"{row[0]}{CARRIED}{commit})", *row[1:]] for row, commit in previous[name]]
            rows = [row for name in SECTIONS for row in by_section[name]]
    lines = header("## Summary", text, args)
    lines += ["| benchmark | ours | peer | ratio | goal | goal met? |", "|---|---:|---:|---:|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (checks the harness)")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--no-peers", action="store_true", help="ours only, even where a peer is installed")
    parser.add_argument("--emulated-bfloat16", action="store_true",
                        help="interpret: measure bfloat16 even on a CPU that emulates it (ratios only)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    args.command = "python benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    found = versions()
    args.software = f"Python {platform.python_version()}, " + ", ".join(
        f"{name} {version or '(not installed)'}" for name, version in found.items()
    )

    summary, sections, inference = [], [], None
    if "inference" in chosen:
        section, inference = bench_inference(args, summary)
        sections.append(("## Enformer inference", section))
    if "training" in chosen:
        sections.append(("## Enformer training step", bench_training(args, summary)[0]))
    if "logo" in chosen:
        sections.append(("## LOGO masked-LM training", bench_logo(args, summary)[0]))
    if "onehot" in chosen:
        bench_onehot(args, summary)
    if "variants" in chosen:
        bench_variants(args, summary, inference)
    if "interpret" in chosen:
        sections.append(("## Enformer interpretation", bench_interpret(args, summary)[0]))
    if "beam" in chosen:
        bench_beam(args, summary)
    summary_text = render_summary(summary, args, chosen)
    print(summary_text)
    for title, text in sections:
        print(text)
        if not args.no_write:
            update_markdown(args.output, text, title)
    if not args.no_write:
        update_markdown(args.output, summary_text, "## Summary")
    return summary


if __name__ == "__main__":
    main()
