"""Promoter data set from a FASTA + TSS BED, LOGO fine-tuning, baselines, metrics.

- `build_promoter_dataset`: 600 bp windows (TSS -200 ... +400 on the gene's
  strand) as positives; GC-matched random windows far from any TSS as
  negatives; train / valid / test split by position (contiguous regions, no
  window crossing a boundary, no overlapping windows).
- `finetune_promoter_classifier`: fine-tunes a `LogoPromoterClassifier`
  (pre-trained or from scratch) with random frame/strand augmentation and
  model selection on the validation split.
- `KmerLogisticRegression`: k-mer frequency logistic-regression baseline.
- `binary_metrics`: AUROC, AUPRC (average precision), F1 at 0.5.

Command line: `python -m kipoi_genome.training.promoter_dataset {build,
finetune, kmer-baseline} --help`.
"""

import argparse
import dataclasses
import itertools
import json
import pathlib
import time

import numpy as np
import pandas as pd

GENE_TYPES = ("protein_coding", "lincRNA", "antisense")
SPLITS = ("train", "valid", "test")


# ----------------------------------------------------------------------------
# Data set builder
# ----------------------------------------------------------------------------


def read_tss_bed(path):
    """TSS BED -> DataFrame (chrom, tss, name, strand, gene_type).

    Columns: chrom, start (0-based TSS), end, name, score, strand, and an
    optional 7th column with the gene type.
    """
    table = pd.read_csv(path, sep="\t", header=None, comment="#")
    table = table.rename(columns={0: "chrom", 1: "tss", 3: "name", 5: "strand", 6: "gene_type"})
    if "gene_type" not in table:
        table["gene_type"] = "unknown"
    return table[["chrom", "tss", "name", "strand", "gene_type"]]


def _reverse_complement(sequence):
    return sequence.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def gc_fraction(sequence):
    sequence = sequence.upper()
    acgt = sum(sequence.count(b) for b in "ACGT")
    return (sequence.count("G") + sequence.count("C")) / max(acgt, 1)


def split_regions(contig_length, test_length=10_000_000, valid_length=5_000_000):
    """Contiguous split regions: train | valid | test (test = the contig's end)."""
    test_start = contig_length - test_length
    valid_start = test_start - valid_length
    if valid_start <= 0:
        raise ValueError(
            "The contig is too short for the requested split. Received: "
            f"contig_length={contig_length}, test_length={test_length}, valid_length={valid_length}"
        )
    return {"train": (0, valid_start), "valid": (valid_start, test_start), "test": (test_start, contig_length)}


def build_promoter_dataset(
    sequence,
    contig,
    tss,
    gene_types=GENE_TYPES,
    upstream=200,
    downstream=400,
    test_length=10_000_000,
    valid_length=5_000_000,
    min_tss_distance=5_000,
    gc_tolerance=0.02,
    negatives_per_positive=1,
    num_candidates=400_000,
    seed=0,
):
    """Builds the promoter table for one contig.

    Positives: one window per TSS of the chosen gene types, `[tss - upstream,
    tss + downstream)` on the + strand and the mirror image, reverse
    complemented, on the - strand. Windows with N or overlapping an earlier
    kept positive are dropped (no near-duplicates).
    Negatives: random windows of the same split region, at least
    `min_tss_distance` from every TSS of the BED (all types), without N,
    not overlapping each other; each is GC-matched (within `gc_tolerance`
    when possible, else the closest) to a positive of its split, with a
    random strand.
    Split: a window belongs to the split region that contains it entirely;
    windows crossing a region boundary are dropped.

    Args:
        sequence: str. The contig's sequence.
        contig: str. Its name (rows of `tss` on other contigs are ignored).
        tss: DataFrame from `read_tss_bed`.
        gene_types: tuple of gene types used as positives (None: all).
        upstream, downstream: int. Window around the TSS (600 bp total).
        test_length, valid_length: int. Lengths of the test region (the
            contig's end) and of the validation region just before it.
        min_tss_distance: int. Minimum distance of negatives from any TSS.
        gc_tolerance: float. GC matching tolerance.
        negatives_per_positive: int.
        num_candidates: int. Random negative candidates drawn per contig.
        seed: int.

    Returns:
        DataFrame with chrom, start, end, strand, name, gene_type, label,
        gc, split, sequence; sorted by split then position.
    """
    rng = np.random.default_rng(seed)
    length = upstream + downstream
    regions = split_regions(len(sequence), test_length, valid_length)

    def split_of(start, end):
        for name, (a, b) in regions.items():
            if a <= start and end <= b:
                return name
        return None

    on_contig = tss[tss["chrom"] == contig].sort_values("tss")
    chosen = on_contig if gene_types is None else on_contig[on_contig["gene_type"].isin(gene_types)]
    rows, last_end = [], -1
    for record in chosen.itertuples():
        if record.strand == "-":
            start, end = record.tss + 1 - downstream, record.tss + 1 + upstream
        else:
            start, end = record.tss - upstream, record.tss + downstream
        split = split_of(start, end)
        if split is None or start < last_end:
            continue
        window = sequence[start:end]
        if "N" in window:
            continue
        last_end = end
        if record.strand == "-":
            window = _reverse_complement(window)
        rows.append(dict(chrom=contig, start=start, end=end, strand=record.strand, name=record.name,
                         gene_type=record.gene_type, label=1, gc=gc_fraction(window), split=split, sequence=window))
    positives = pd.DataFrame(rows)

    # Negative candidates: far from every TSS, N-free, GC known.
    all_tss = np.sort(on_contig["tss"].to_numpy())
    codes = np.frombuffer(sequence.encode("ascii"), np.uint8)
    gc_sum = np.concatenate([[0], np.cumsum((codes == ord("G")) | (codes == ord("C")))])
    n_sum = np.concatenate([[0], np.cumsum(codes == ord("N"))])
    starts = rng.integers(0, len(sequence) - length, size=num_candidates)
    ends = starts + length
    ok = (n_sum[ends] - n_sum[starts]) == 0
    nearest = np.searchsorted(all_tss, starts)
    left = np.abs(starts - all_tss[np.clip(nearest - 1, 0, len(all_tss) - 1)])
    right = np.abs(all_tss[np.clip(nearest, 0, len(all_tss) - 1)] - ends)
    ok &= np.minimum(left, right) >= min_tss_distance
    starts = starts[ok]
    gcs = (gc_sum[starts + length] - gc_sum[starts]) / length

    negatives = []
    for split in SPLITS:
        a, b = regions[split]
        in_split = (starts >= a) & (starts + length <= b)
        pool_starts, pool_gc = starts[in_split], gcs[in_split]
        order = np.argsort(pool_gc)
        pool_starts, pool_gc = pool_starts[order], pool_gc[order]
        used = np.zeros(len(pool_starts), bool)
        taken = []  # accepted negative starts, for the overlap check
        split_positives = positives[positives["split"] == split]
        for positive in split_positives.itertuples():
            for _ in range(negatives_per_positive):
                index = _closest_unused(pool_gc, used, positive.gc, gc_tolerance, rng, pool_starts, taken, length)
                if index is None:
                    continue
                used[index] = True
                start = int(pool_starts[index])
                taken.append(start)
                strand = "+" if rng.random() < 0.5 else "-"
                window = sequence[start : start + length]
                if strand == "-":
                    window = _reverse_complement(window)
                negatives.append(dict(chrom=contig, start=start, end=start + length, strand=strand, name=f"neg_{positive.name}",
                                      gene_type="background", label=0, gc=gc_fraction(window), split=split, sequence=window))
    table = pd.concat([positives, pd.DataFrame(negatives)], ignore_index=True)
    table["split"] = pd.Categorical(table["split"], SPLITS, ordered=True)
    return table.sort_values(["split", "start"]).reset_index(drop=True)


def _closest_unused(pool_gc, used, target, tolerance, rng, pool_starts, taken, length):
    """Random unused, non-overlapping candidate within `tolerance` of `target` GC.

    The tolerance doubles (up to 8 times) when no candidate is left.
    """
    for attempt in range(4):
        width = tolerance * 2**attempt
        lo = np.searchsorted(pool_gc, target - width)
        hi = np.searchsorted(pool_gc, target + width)
        candidates = np.flatnonzero(~used[lo:hi]) + lo
        rng.shuffle(candidates)
        for index in candidates:
            start = pool_starts[index]
            if all(abs(start - t) >= length for t in taken):
                return int(index)
    return None


def check_promoter_dataset(table):
    """Asserts the invariants of a built table (no cross-split or any overlap)."""
    ordered = table.sort_values("start")
    starts, ends = ordered["start"].to_numpy(), ordered["end"].to_numpy()
    if (starts[1:] < ends[:-1]).any():
        raise ValueError("Windows overlap.")
    if (table["end"] - table["start"] != table["sequence"].str.len()).any():
        raise ValueError("Window lengths disagree with the sequences.")
    bounds = table.groupby("split", observed=True).agg(lo=("start", "min"), hi=("end", "max"))
    order = [s for s in SPLITS if s in bounds.index]
    for a, b in zip(order[:-1], order[1:]):
        if bounds.loc[a, "hi"] > bounds.loc[b, "lo"]:
            raise ValueError(f"Splits {a} and {b} are not separated by position.")
    return True


# ----------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------


def auroc(labels, scores):
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(scores, np.float64))
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels, scores):
    """Area under the precision-recall curve as average precision (step-wise)."""
    labels = np.asarray(labels).astype(bool)
    if not labels.any():  # no positives (or no rows, e.g. an absent test split): undefined, as auroc
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    scores_sorted = np.asarray(scores, np.float64)[order]
    hits = labels[order]
    # Group ties: precision/recall evaluated at distinct thresholds.
    distinct = np.r_[np.flatnonzero(np.diff(scores_sorted)), len(hits) - 1]
    true_positives = np.cumsum(hits)[distinct]
    predicted = distinct + 1
    precision = true_positives / predicted
    recall = true_positives / max(hits.sum(), 1)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_metrics(labels, probabilities, threshold=0.5):
    """AUROC, AUPRC, F1 (at `threshold`), accuracy and counts."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(probabilities) >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {
        "auroc": auroc(labels, probabilities),
        "auprc": average_precision(labels, probabilities),
        "f1": float(f1),
        "accuracy": float((predicted == labels).mean()),
        "n_positive": int(labels.sum()),
        "n_negative": int((~labels).sum()),
    }


# ----------------------------------------------------------------------------
# k-mer logistic regression baseline
# ----------------------------------------------------------------------------


class KmerLogisticRegression:
    """L2 logistic regression on k-mer frequencies (both strands pooled).

    Features: for each k in `ks`, the frequencies of the `4**k` k-mers of
    the sequence plus its reverse complement, standardised with the
    training mean and deviation. `C` (inverse regularisation) is chosen on
    the validation split among `cs`.

    Args:
        ks: tuple of k-mer lengths. Defaults to (1, 2, 3, 4, 5).
        cs: candidate inverse regularisation strengths.
    """

    def __init__(self, ks=(1, 2, 3, 4, 5), cs=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1, 1.0)):
        self.ks = tuple(ks)
        self.cs = tuple(cs)

    def features(self, sequences):
        blocks = []
        for k in self.ks:
            index = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
            block = np.zeros((len(sequences), 4**k))
            for row, sequence in enumerate(sequences):
                for strand in (sequence.upper(), _reverse_complement(sequence.upper())):
                    for i in range(len(strand) - k + 1):
                        j = index.get(strand[i : i + k])
                        if j is not None:
                            block[row, j] += 1
            blocks.append(block / np.maximum(block.sum(axis=1, keepdims=True), 1))
        return np.concatenate(blocks, axis=1)

    def _fit(self, x, y, c):
        from scipy.optimize import minimize

        def objective(w):
            z = x @ w[:-1] + w[-1]
            loss = np.sum(np.logaddexp(0, z) - y * z) + 0.5 / c * np.sum(w[:-1] ** 2)
            p = 1 / (1 + np.exp(-z))
            grad = np.r_[x.T @ (p - y) + w[:-1] / c, np.sum(p - y)]
            return loss, grad

        result = minimize(objective, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
        return result.x

    def fit(self, train_sequences, train_labels, valid_sequences, valid_labels):
        x = self.features(train_sequences)
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        x = (x - self.mean) / self.scale
        xv = (self.features(valid_sequences) - self.mean) / self.scale
        y = np.asarray(train_labels, np.float64)
        self.validation = {}
        best = None
        for c in self.cs:
            w = self._fit(x, y, c)
            score = auroc(valid_labels, xv @ w[:-1] + w[-1])
            self.validation[c] = score
            if best is None or score > best[0]:
                best = (score, c, w)
        _, self.c, self.weights = best
        return self

    def predict_proba(self, sequences):
        x = (self.features(sequences) - self.mean) / self.scale
        return 1 / (1 + np.exp(-(x @ self.weights[:-1] + self.weights[-1])))


# ----------------------------------------------------------------------------
# Fine-tuning LOGO
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class FinetuneConfig:
    """Settings of `finetune_promoter_classifier`."""

    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_steps: int = 50
    weight_decay: float = 0.01
    pooling: str = "mean"
    dropout: float = 0.25
    seed: int = 0
    max_minutes: float = 0.0


def _training_dataset(sequences, labels, tokenizer, batch_size, seed):
    """tf.data: every epoch one random reading frame and strand per sequence."""
    import tensorflow as tf

    from kipoi_genome.models.logo.logo_task import tokenize_views

    # Sequences of different lengths are padded with id 0 (masked by the backbone).
    views = tokenize_views(tokenizer, list(sequences))  # [N, 2k, m]
    labels = np.asarray(labels, np.float32)[:, None]
    dataset = tf.data.Dataset.from_tensor_slices((views, labels)).shuffle(len(views), seed=seed)

    def pick(view, label):
        index = tf.random.uniform((), 0, tf.shape(view)[0], dtype=tf.int32, seed=seed)
        return view[index], label

    return dataset.map(pick).batch(batch_size).prefetch(2)


def finetune_promoter_classifier(model, table, config, log=print):
    """Fine-tunes `model` on the train split, selecting the epoch on valid AUROC.

    Args:
        model: a `LogoPromoterClassifier` (pre-trained backbone or not).
        table: promoter DataFrame (`build_promoter_dataset`).
        config: `FinetuneConfig`.
        log: callable for progress lines.

    Returns:
        dict with `history` (per-epoch loss, valid metrics, seconds),
        `best_epoch`, `valid`, `test` metrics; `model` holds the best weights.
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    train = table[table["split"] == "train"]
    valid = table[table["split"] == "valid"]
    test = table[table["split"] == "test"]
    dataset = _training_dataset(list(train["sequence"]), train["label"].to_numpy(), model.tokenizer, config.batch_size, config.seed)
    steps = config.epochs * int(np.ceil(len(train) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - config.warmup_steps), warmup_target=config.learning_rate,
        warmup_steps=config.warmup_steps, alpha=0.05,
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, global_clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy())
    history, best, best_weights = [], None, None
    started = time.time()
    for epoch in range(1, config.epochs + 1):
        fit = model.fit(dataset, epochs=1, verbose=0)
        valid_metrics = binary_metrics(valid["label"], model.predict_sequences(list(valid["sequence"])))
        entry = {"epoch": epoch, "loss": float(fit.history["loss"][-1]), "valid": valid_metrics, "seconds": round(time.time() - started, 1)}
        history.append(entry)
        log(f"epoch {epoch}: loss {entry['loss']:.4f}, valid AUROC {valid_metrics['auroc']:.4f}, {entry['seconds']} s")
        if best is None or valid_metrics["auroc"] > best["valid"]["auroc"]:
            best = entry
            best_weights = [w.numpy() for w in model.weights]
        if config.max_minutes and time.time() - started > 60 * config.max_minutes:
            break
    model.set_weights(best_weights)
    test_probabilities = model.predict_sequences(list(test["sequence"]))
    # Fine-tuning tables without a test split (kipoi-genome finetune) report no test metrics.
    return {
        "history": history,
        "best_epoch": best["epoch"],
        "valid": best["valid"],
        "test": binary_metrics(test["label"], test_probabilities) if len(test) else None,
        "test_probabilities": test_probabilities.tolist(),
    }


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------


def save_model_weights(model, path):
    """Saves only the model's weights (no optimizer state) to a `.weights.h5`.

    A compiled model's `save_weights` also stores the optimizer; an
    uncompiled copy stores the weights alone (a third of the size with Adam).
    """
    from kipoi_genome.training.finetune import uncompiled_copy

    uncompiled_copy(model).save_weights(str(path))


def _read_table(path):
    table = pd.read_csv(path)
    table["split"] = pd.Categorical(table["split"], SPLITS, ordered=True)
    return table


def _cmd_build(args):
    from kipoi_genome.training.logo_pretraining import read_contig

    sequence, contig = read_contig(args.fasta, args.contig)
    table = build_promoter_dataset(
        sequence, contig, read_tss_bed(args.tss),
        gene_types=None if args.gene_types == "all" else tuple(args.gene_types.split(",")),
        test_length=args.test_length, valid_length=args.valid_length,
        min_tss_distance=args.min_tss_distance, seed=args.seed,
    )
    check_promoter_dataset(table)
    table.to_csv(args.output, index=False)
    summary = table.groupby(["split", "label"], observed=True).agg(n=("gc", "size"), gc=("gc", "mean"))
    print(summary.to_string())


def _cmd_finetune(args):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, LogoPromoterClassifier

    table = _read_table(args.data)
    config = FinetuneConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                            pooling=args.pooling, seed=args.seed, max_minutes=args.max_minutes)
    backbone_config = json.loads(pathlib.Path(args.backbone_config).read_text())
    backbone = LogoBackbone.from_config(backbone_config)
    if args.pretrained:
        masked_lm = LogoMaskedLM(backbone)
        masked_lm.load_weights(args.pretrained)
    model = LogoPromoterClassifier(backbone, pooling=config.pooling, dropout=config.dropout)
    result = finetune_promoter_classifier(model, table, config)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    save_model_weights(model, output / "promoter.weights.h5")
    (output / "model_config.json").write_text(json.dumps(model.get_config(), indent=2))
    (output / "result.json").write_text(json.dumps({**result, "config": dataclasses.asdict(config), "pretrained": args.pretrained}, indent=2))
    print(json.dumps(result["test"], indent=2))


def _cmd_kmer_baseline(args):
    table = _read_table(args.data)
    parts = {s: table[table["split"] == s] for s in SPLITS}
    model = KmerLogisticRegression(ks=tuple(int(k) for k in args.ks.split(",")))
    model.fit(list(parts["train"]["sequence"]), parts["train"]["label"], list(parts["valid"]["sequence"]), parts["valid"]["label"])
    result = {
        "ks": model.ks, "c": model.c, "validation_auroc_by_c": model.validation,
        "test": binary_metrics(parts["test"]["label"], model.predict_proba(list(parts["test"]["sequence"]))),
    }
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kipoi_genome.training.promoter_dataset", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the promoter CSV from a FASTA and a TSS BED")
    build.add_argument("--fasta", required=True)
    build.add_argument("--tss", required=True, help="TSS BED (chrom, start, end, name, score, strand[, gene_type])")
    build.add_argument("--output", required=True, help="CSV (.csv or .csv.gz)")
    build.add_argument("--contig", default=None)
    build.add_argument("--gene-types", default=",".join(GENE_TYPES), help="comma-separated, or 'all'")
    build.add_argument("--test-length", type=int, default=10_000_000)
    build.add_argument("--valid-length", type=int, default=5_000_000)
    build.add_argument("--min-tss-distance", type=int, default=5_000)
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(func=_cmd_build)
    finetune = commands.add_parser("finetune", help="fine-tune LogoPromoterClassifier")
    finetune.add_argument("--data", required=True)
    finetune.add_argument("--backbone-config", required=True, help="JSON of LogoBackbone config (model_config.json of pre-training)")
    finetune.add_argument("--pretrained", default=None, help="masked_lm.weights.h5; omit to train from scratch")
    finetune.add_argument("--output", required=True)
    finetune.add_argument("--epochs", type=int, default=6)
    finetune.add_argument("--batch-size", type=int, default=32)
    finetune.add_argument("--learning-rate", type=float, default=5e-4)
    finetune.add_argument("--pooling", default="mean", choices=("first", "mean"))
    finetune.add_argument("--max-minutes", type=float, default=0.0)
    finetune.add_argument("--seed", type=int, default=0)
    finetune.set_defaults(func=_cmd_finetune)
    baseline = commands.add_parser("kmer-baseline", help="k-mer logistic-regression baseline")
    baseline.add_argument("--data", required=True)
    baseline.add_argument("--ks", default="1,2,3,4,5")
    baseline.add_argument("--output", default=None)
    baseline.set_defaults(func=_cmd_kmer_baseline)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
