"""LOGO masked-LM pre-training on a FASTA: data, loop, evaluation, baseline.

Separable pieces:

- `read_contig`, `parse_region`: the sequence (whole contig read once).
- `RandomWindows`: random windows from a region (both strands, windows with
  too many N skipped), one random reading frame each -> token ids `[m]`.
- `pretraining_dataset`: pure-TensorFlow `tf.data` pipeline (windows,
  strands, frames, tokens and dynamic masks drawn per batch from stateless
  seeds; no per-sample Python).
- `pretrain`: a compact custom loop under any `tf.distribute` strategy with
  `tf.train.CheckpointManager` (checkpoint every N steps, resume), a tqdm
  progress bar with masked-token accuracy and perplexity, periodic held-out
  evaluation, and final weights.
- `heldout_masked_set`, `evaluate_masked_lm`, `MarkovBaseline`: held-out
  masked-token accuracy of the model and of an order-o Markov chain given
  exactly the same visible context.
"""

import csv
import dataclasses
import functools
import gzip
import itertools
import json
import logging
import math
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, mask_tokens
from kipoi_genome.models.logo.logo_masked_lm import masked_lm_loss
from kipoi_genome.tokenizers import KmerTokenizer, base_codes
from kipoi_genome.training.checkpoints import restore_newest
from kipoi_genome.training.trainer import mixed_precision_scope

# ----------------------------------------------------------------------------
# Sequence access
# ----------------------------------------------------------------------------


def read_contig(fasta_path, contig=None):
    """Reads one whole contig of a (b)gzipped or plain FASTA as an upper-case str.

    Streams the file once (much faster than random access for a whole
    chromosome). `contig=None` takes the first record.
    """
    opener = gzip.open if str(fasta_path).endswith((".gz", ".bgz")) else open
    chunks, found = [], False
    with opener(fasta_path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if found:
                    break
                name = line[1:].split()[0]
                found = contig is None or name == contig
                contig = name if found else contig
                continue
            if found:
                chunks.append(line.strip())
    if not found:
        raise ValueError(f"Contig {contig!r} not found in {fasta_path}.")
    return "".join(chunks).upper(), contig


def parse_region(text):
    """`"chr20:0-53025520"` (0-based, half-open) -> `("chr20", 0, 53025520)`."""
    try:
        contig, span = text.rsplit(":", 1)
        start, end = (int(x.replace(",", "")) for x in span.split("-"))
    except ValueError as error:
        raise ValueError(f"Region must look like 'chr20:0-1000'. Received: {text!r}") from error
    if not 0 <= start < end:
        raise ValueError(f"Region start must be < end. Received: {text!r}")
    return contig, start, end


def _complement(window):
    return window.translate(str.maketrans("ACGT", "TGCA"))[::-1]


class RandomWindows:
    """Random windows of a sequence region: both strands, N-filtered.

    Each draw takes a uniform start in `[start, end - window_length]`, skips
    windows whose N fraction exceeds `max_n_fraction`, reverse-complements
    with probability 1/2, tokenizes, and keeps one random reading frame.

    Args:
        sequence: str, the contig.
        start, end: int. Region (0-based, half-open) windows must lie in.
        tokenizer: `KmerTokenizer`.
        window_length: int. Defaults to 1,004 (200 tokens per frame at k=5).
        max_n_fraction: float. Defaults to 0.05.
        seed: int.
    """

    def __init__(self, sequence, start, end, tokenizer, window_length=1004, max_n_fraction=0.05, seed=0):
        if end - start < window_length:
            raise ValueError(
                f"Region is shorter than a window. Received: {end - start} bp < {window_length} bp"
            )
        self.sequence = sequence
        self.start, self.end = start, end
        self.tokenizer = tokenizer
        self.window_length = window_length
        self.max_n_fraction = max_n_fraction
        self.rng = np.random.default_rng(seed)
        region = np.frombuffer(sequence[start:end].encode("ascii"), np.uint8)
        self._n_cumsum = np.concatenate([[0], np.cumsum(region == ord("N"))])
        self.num_tokens = tokenizer.num_tokens(window_length)

    @functools.cached_property
    def codes(self):
        """uint8 base codes of the region `[end - start]` (N 0, A 1, G 2, C 3, T 4)."""
        return base_codes(self.sequence[self.start : self.end])

    @functools.cached_property
    def valid_offsets(self):
        """int32 offsets (from `start`) of every window with few enough N."""
        counts = self._n_cumsum[self.window_length :] - self._n_cumsum[: -self.window_length]
        valid = np.flatnonzero(counts / self.window_length <= self.max_n_fraction).astype(np.int32)
        if not len(valid):
            raise ValueError(
                f"No window of {self.window_length} bp in {self.start}-{self.end} has at most "
                f"{self.max_n_fraction:.0%} N."
            )
        return valid

    def n_fraction(self, offset):
        n = self._n_cumsum[offset + self.window_length] - self._n_cumsum[offset]
        return n / self.window_length

    def draw(self):
        """Returns `(window_string, strand, frame)` of one accepted window."""
        limit = self.end - self.start - self.window_length
        for _ in range(10_000):
            offset = int(self.rng.integers(0, limit + 1))
            if self.n_fraction(offset) <= self.max_n_fraction:
                break
        else:
            raise ValueError("No window with few enough N found in 10,000 draws.")
        window = self.sequence[self.start + offset : self.start + offset + self.window_length]
        strand = int(self.rng.integers(0, 2))
        frame = int(self.rng.integers(0, self.tokenizer.k))
        return (_complement(window) if strand else window), strand, frame

    def __iter__(self):
        while True:
            window, _, frame = self.draw()
            yield self.tokenizer.tokenize(window)[frame]


def pretraining_dataset(windows, batch_size, seed=0, mask_rate=0.15, first_batch=0):
    """`tf.data` of masked batches `(features, labels, weights)` from a region.

    Pure TensorFlow, no per-sample Python: batch `i` draws `batch_size`
    window starts among `windows.valid_offsets`, strands and reading frames
    with stateless seeds derived from `(seed, i)`, gathers the base codes,
    tokenizes them and masks 15 % of the tokens (dynamic masking: new masks
    every batch). The stream is a pure function of `(seed, i)`, so a run
    resumed at step `s` continues with `first_batch=s` exactly where an
    uninterrupted run would be.

    Args:
        windows: `RandomWindows` (region, tokenizer, window length, N limit).
        batch_size: int. Windows per batch.
        seed: int.
        mask_rate: float. Fraction of tokens selected for prediction.
        first_batch: int. Index of the first batch produced.

    Returns:
        `tf.data.Dataset` of `({"token_ids": [B, m], "mask_positions": [B, P]},
        labels [B, P], weights [B, P])`.
    """
    tokenizer = windows.tokenizer
    k, m, length = tokenizer.k, windows.num_tokens, windows.window_length
    codes = tf.constant(windows.codes)  # uint8 [R]
    offsets = tf.constant(windows.valid_offsets)  # int32 [V]
    num_offsets = tf.constant(len(windows.valid_offsets), tf.int32)

    def make_batch(index):
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), index]), 4
        )
        pick = tf.random.stateless_uniform([batch_size], seeds[0], 0, num_offsets, dtype=tf.int32)
        strand = tf.random.stateless_uniform([batch_size], seeds[1], 0, 2, dtype=tf.int32)
        frame = tf.random.stateless_uniform([batch_size], seeds[2], 0, k, dtype=tf.int32)
        starts = tf.gather(offsets, pick)
        batch = tf.cast(tf.gather(codes, starts[:, None] + tf.range(length)), tf.int32)  # [B, L]
        reverse = tf.where(batch > 0, 5 - batch, 0)[:, ::-1]
        batch = tf.where(strand[:, None] == 1, reverse, batch)
        token_ids = tf.gather(tokenizer.tokenize_codes(batch), frame, batch_dims=1)  # [B, m]
        token_ids = tf.ensure_shape(token_ids, [batch_size, m])
        return mask_tokens(
            token_ids,
            seeds[3],
            mask_rate=mask_rate,
            random_token_range=(tokenizer.first_kmer_id, tokenizer.last_kmer_id),
        )

    dataset = tf.data.Dataset.counter(start=first_batch)
    return dataset.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------
# Held-out evaluation
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class MaskedSet:
    """A fixed held-out masked set.

    Attributes:
        windows: list of window strings (strand already applied).
        frames: int array `[N]`, reading frame of each row.
        token_ids: int32 `[N, m]` original tokens.
        features: dict of `"token_ids"` (all selected positions set to
            [MASK]) and `"mask_positions"` `[N, P]`.
        labels: int32 `[N, P]`; weights: float32 `[N, P]`.
    """

    windows: list
    frames: np.ndarray
    token_ids: np.ndarray
    features: dict
    labels: np.ndarray
    weights: np.ndarray


def heldout_masked_set(sequence, start, end, tokenizer, num_windows=512, window_length=1004, seed=1234, mask_rate=0.15):
    """Fixed masked windows from a region, all without N, every selection -> [MASK]."""
    sampler = RandomWindows(sequence, start, end, tokenizer, window_length, max_n_fraction=0.0, seed=seed)
    windows, frames = [], []
    for _ in range(num_windows):
        window, _, frame = sampler.draw()
        windows.append(window)
        frames.append(frame)
    token_ids = np.stack([tokenizer.tokenize(w)[f] for w, f in zip(windows, frames)])
    features, labels, weights = mask_tokens(
        token_ids, [seed, 0], mask_rate=mask_rate, mask_token_rate=1.0, random_token_rate=0.0
    )
    features = {key: value.numpy() for key, value in features.items()}
    return MaskedSet(windows, np.array(frames), token_ids, features, labels.numpy(), weights.numpy())


def acgt_kmer_ids(tokenizer):
    """Ids of the `4**k` k-mers made of A, C, G, T only, and the k-mers."""
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=tokenizer.k)]
    return np.array([tokenizer.token_to_id(s) for s in kmers]), kmers


def evaluate_masked_lm(model, masked_set, tokenizer, batch_size=64):
    """Masked-token accuracy and perplexity of a `LogoMaskedLM` on a `MaskedSet`.

    Returns:
        dict: `accuracy` (argmax over the `4**k` ACGT k-mers, as the Markov
        baseline), `accuracy_full_vocabulary`, `perplexity` (full softmax),
        `num_masked`.
    """
    logits = model.predict(masked_set.features, batch_size=batch_size, verbose=0)
    logits = logits.astype(np.float64)
    selected = masked_set.weights > 0
    labels = masked_set.labels[selected]
    logits = logits[selected]  # [M, V]
    log_probs = logits - _logsumexp(logits)
    nll = -log_probs[np.arange(len(labels)), labels]
    ids, _ = acgt_kmer_ids(tokenizer)
    restricted = ids[np.argmax(logits[:, ids], axis=-1)]
    return {
        "accuracy": float(np.mean(restricted == labels)),
        "accuracy_full_vocabulary": float(np.mean(np.argmax(logits, -1) == labels)),
        "perplexity": float(np.exp(nll.mean())),
        "num_masked": int(len(labels)),
    }


def _logsumexp(x):
    top = x.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


class MarkovBaseline:
    """Order-o Markov chain on bases (both strands), predicting masked k-mers.

    A masked k-mer `c` is predicted as `argmax_c P(L c R)` under the chain,
    where `L` and `R` are the visible bases directly left and right of it
    (at most `order` each, stopping at masked tokens and at bases outside
    the frame's tokens, i.e. exactly what the masked LM can see). Conditional
    probabilities use add-`alpha` smoothing; contexts shorter than `order`
    (at the edges) use the lower-order tables.

    Args:
        order: int >= 0.
        alpha: float. Pseudo-count. Defaults to 0.5.
    """

    def __init__(self, order, alpha=0.5):
        if order < 0:
            raise ValueError(f"`order` must be >= 0. Received: order={order}")
        self.order = order
        self.alpha = alpha
        self.log_probs = None

    def fit(self, sequence, start=0, end=None):
        """Counts (l+1)-mers, l = 0..order, on both strands of `sequence[start:end]`.

        Only N-free runs are counted. Both strands, because the masked LM is
        trained and evaluated on both.
        """
        codes = _base_codes(sequence[start:end])
        counts = [np.zeros(4 ** (l + 1), np.int64) for l in range(self.order + 1)]
        for run in _acgt_runs(codes):
            for strand in (run, 3 - run[::-1]):  # A0 C1 G2 T3: complement = 3 - code
                for l in range(self.order + 1):
                    if len(strand) > l:
                        counts[l] += np.bincount(_rolling_codes(strand, l + 1), minlength=4 ** (l + 1))
        self.log_probs = []
        for l, c in enumerate(counts):
            table = c.reshape(4**l, 4).astype(np.float64) + self.alpha
            self.log_probs.append(np.log(table / table.sum(axis=1, keepdims=True)))
        return self

    def predict_masked(self, masked_set, k):
        """Predicted k-mer (as `[M, k]` base codes) and true k-mers for every selected slot."""
        candidates = np.array(list(itertools.product(range(4), repeat=k)))  # [C, k], ACGT order
        predictions, truths = [], []
        for row, (window, frame) in enumerate(zip(masked_set.windows, masked_set.frames)):
            codes = _base_codes(window)
            m = masked_set.token_ids.shape[1]
            visible = np.zeros(len(codes), bool)
            masked_slots = masked_set.features["mask_positions"][row][masked_set.weights[row] > 0]
            masked_tokens = set(masked_slots.tolist())
            for j in range(m):
                if j not in masked_tokens:
                    visible[frame + j * k : frame + (j + 1) * k] = True
            for j in masked_slots:
                begin = frame + j * k
                left = _visible_run(visible, begin - 1, -1, self.order)
                right = _visible_run(visible, begin + k, 1, self.order)
                left_codes = codes[begin - left : begin]
                right_codes = codes[begin + k : begin + k + right]
                scores = self._score(left_codes, candidates, right_codes)
                predictions.append(candidates[np.argmax(scores)])
                truths.append(codes[begin : begin + k])
        return np.array(predictions), np.array(truths)

    def accuracy(self, masked_set, k):
        predictions, truths = self.predict_masked(masked_set, k)
        return float(np.mean(np.all(predictions == truths, axis=1)))

    def _score(self, left, candidates, right):
        count = len(candidates)
        full = np.concatenate(
            [np.broadcast_to(left, (count, len(left))), candidates, np.broadcast_to(right, (count, len(right)))],
            axis=1,
        )
        score = np.zeros(count)
        for t in range(len(left), full.shape[1]):
            l = min(self.order, t)
            context = np.zeros(count, np.int64)
            for base in range(t - l, t):
                context = context * 4 + full[:, base]
            score += self.log_probs[l][context, full[:, t]]
        return score


_ACGT_CODES = np.full(256, 4, np.int64)
for _i, _b in enumerate("ACGT"):
    _ACGT_CODES[ord(_b)] = _i


def _base_codes(sequence):
    """A 0, C 1, G 2, T 3, anything else 4."""
    return _ACGT_CODES[np.frombuffer(sequence.encode("ascii"), np.uint8)]


def _acgt_runs(codes):
    bad = np.flatnonzero(codes == 4)
    edges = np.concatenate([[-1], bad, [len(codes)]])
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a - 1 > 0:
            yield codes[a + 1 : b]


def _rolling_codes(run, width):
    value = np.zeros(len(run) - width + 1, np.int64)
    for i in range(width):
        value = value * 4 + run[i : len(run) - width + 1 + i]
    return value


def _visible_run(visible, position, step, limit):
    length = 0
    while length < limit and 0 <= position < len(visible) and visible[position]:
        length += 1
        position += step
    return length


# ----------------------------------------------------------------------------
# Training loop
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class PretrainConfig:
    """Settings of `pretrain` (the CLI flags of `kipoi-genome pretrain logo`)."""

    fasta: str
    output: str
    contig: str = None
    train_region: str = None  # default: contig minus the last `holdout` bp
    eval_region: str = None  # default: the last `holdout` bp
    holdout: int = 10_000_000
    k: int = 5
    window_length: int = 1004
    max_n_fraction: float = 0.05
    steps: int = 1000
    batch_size: int = 64  # global
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    checkpoint_every: int = 200
    eval_every: int = 0  # 0: only at the end
    eval_windows: int = 256
    seed: int = 0
    max_minutes: float = 0.0  # 0: no time limit; else stop (and checkpoint) after this
    backbone: dict = dataclasses.field(default_factory=dict)  # LogoBackbone overrides
    mixed_precision: bool = False  # bfloat16 compute, float32 variables
    jit_compile: bool = False
    progress: bool = True


def _regions(config, sequence, contig):
    if config.train_region:
        train = parse_region(config.train_region)
    else:
        train = (contig, 0, len(sequence) - config.holdout)
    if config.eval_region:
        evaluation = parse_region(config.eval_region)
    else:
        evaluation = (contig, len(sequence) - config.holdout, len(sequence))
    for region in (train, evaluation):
        if region[0] != contig or region[2] > len(sequence):
            raise ValueError(f"Region {region} is not inside contig {contig} of length {len(sequence)}.")
    if train[1] < evaluation[2] and evaluation[1] < train[2]:
        raise ValueError(f"Training region {train} overlaps the evaluation region {evaluation}.")
    return train, evaluation


def build_masked_lm(config):
    tokenizer = KmerTokenizer(k=config.k)
    backbone_args = {
        "vocabulary_size": tokenizer.vocabulary_size,
        "max_sequence_length": max(512, tokenizer.num_tokens(config.window_length)),
        **config.backbone,
    }
    return LogoMaskedLM(LogoBackbone(**backbone_args))


def pretrain(config, strategy=None):
    """Pre-trains a `LogoMaskedLM`; returns a dict of final metrics.

    Writes under `config.output`: `checkpoints/` (resumable), `log.csv`
    (step, loss, masked accuracy, perplexity, lr, held-out metrics),
    `config.json`, `masked_lm.weights.h5` and `model_config.json`.
    Interrupted runs continue from the latest checkpoint when rerun with the
    same output folder.
    """
    strategy = strategy or tf.distribute.get_strategy()
    output = pathlib.Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    sequence, contig = read_contig(config.fasta, config.contig)
    train_region, eval_region = _regions(config, sequence, contig)
    tokenizer = KmerTokenizer(k=config.k)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(
            f"`batch_size` must be divisible by the number of replicas ({replicas}). "
            f"Received: batch_size={config.batch_size}"
        )

    with mixed_precision_scope(config.mixed_precision), strategy.scope():
        keras.utils.set_random_seed(config.seed)
        model = build_masked_lm(config)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, config.steps - config.warmup_steps),
            warmup_target=config.learning_rate,
            warmup_steps=config.warmup_steps,
            alpha=0.05,
        )
        optimizer = keras.optimizers.AdamW(
            schedule, weight_decay=config.weight_decay, global_clipnorm=config.clipnorm
        )
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "embedding"])
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
    manager = tf.train.CheckpointManager(checkpoint, str(output / "checkpoints"), max_to_keep=2)
    # A truncated latest checkpoint falls back to the newest good one (with a warning).
    for path, reason in restore_newest(checkpoint, str(output / "checkpoints"), partial=True).skipped:
        logging.getLogger("kipoi_genome").warning(f"warning: {path}: unreadable checkpoint skipped ({reason})")
    (output / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    start_step = int(step_var.numpy())

    windows = RandomWindows(
        sequence, train_region[1], train_region[2], tokenizer, config.window_length, config.max_n_fraction
    )
    # Batch i is a pure function of (seed, i): a resumed run continues the stream.
    dataset = pretraining_dataset(windows, config.batch_size, seed=config.seed, first_batch=start_step)
    distributed = iter(strategy.experimental_distribute_dataset(dataset))
    heldout = heldout_masked_set(
        sequence, eval_region[1], eval_region[2], tokenizer, config.eval_windows, config.window_length
    )

    def replica_step(features, labels, weights):
        context = tf.distribute.get_replica_context()
        local = tf.reduce_sum(weights)
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
        with tf.GradientTape() as tape:
            logits = model(features, training=True)
            loss = masked_lm_loss(labels, logits, weights, normalizer=tf.maximum(total, 1.0))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32) * weights
        )
        return loss * tf.maximum(total, 1.0), correct, local

    @tf.function(jit_compile=config.jit_compile)
    def compiled_step(features, labels, weights):
        return replica_step(features, labels, weights)

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(compiled_step if replicas == 1 else replica_step, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in per_replica]

    log_path = output / "log.csv"
    new_log = not log_path.exists() or start_step == 0
    log_file = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log_file)
    if new_log:
        writer.writerow(["step", "loss", "masked_accuracy", "perplexity", "learning_rate", "seconds", "heldout_accuracy", "heldout_perplexity"])

    progress = None
    if config.progress:
        from tqdm.auto import tqdm

        progress = tqdm(total=config.steps, initial=start_step, desc="pretrain logo", unit="step")
    started = time.time()
    sums = np.zeros(3)
    metrics = {}
    step = start_step
    try:
        while step < config.steps:
            loss_sum, correct, count = (float(v) for v in train_step(next(distributed)))
            step = int(step_var.assign_add(1).numpy())
            sums = 0.98 * sums + np.array([loss_sum, correct, count])
            running_loss = sums[0] / max(sums[2], 1.0)
            metrics = {
                "loss": running_loss,
                "masked_accuracy": sums[1] / max(sums[2], 1.0),
                "perplexity": math.exp(min(running_loss, 50.0)),
            }
            if progress is not None:
                progress.update(1)
                progress.set_postfix(
                    loss=f"{metrics['loss']:.3f}",
                    acc=f"{metrics['masked_accuracy']:.4f}",
                    ppl=f"{metrics['perplexity']:.0f}",
                )
            heldout_metrics = {}
            out_of_time = config.max_minutes and (time.time() - started) > 60 * config.max_minutes
            last = step == config.steps or out_of_time
            if (config.eval_every and step % config.eval_every == 0) or last:
                heldout_metrics = evaluate_masked_lm(model, heldout, tokenizer)
            if step % 10 == 0 or last or heldout_metrics:
                lr = float(schedule(step))
                writer.writerow(
                    [step, f"{loss_sum / max(count, 1):.5f}", f"{correct / max(count, 1):.5f}", f"{metrics['perplexity']:.2f}", f"{lr:.3e}", f"{time.time() - started:.1f}", heldout_metrics.get("accuracy", ""), heldout_metrics.get("perplexity", "")]
                )
                log_file.flush()
            if step % config.checkpoint_every == 0 or last:
                manager.save(checkpoint_number=step)
            if out_of_time:
                break
    finally:
        log_file.close()
        if progress is not None:
            progress.close()

    model.save_weights(str(output / "masked_lm.weights.h5"))
    backbone_config = model.backbone.get_config()
    if config.mixed_precision:  # float32 weights: load them into a float32 model by default
        backbone_config.pop("dtype", None)
    (output / "model_config.json").write_text(json.dumps(backbone_config, indent=2))
    final = evaluate_masked_lm(model, heldout, tokenizer)
    result = {"step": step, "train": metrics, "heldout": final}
    (output / "result.json").write_text(json.dumps(result, indent=2))
    return result


# ----------------------------------------------------------------------------
# Held-out comparison with the Markov baselines (command line)
# ----------------------------------------------------------------------------


def select_markov_order(sequence, train_start, train_end, tokenizer, orders, validation_length=5_000_000, num_windows=256, window_length=1004, seed=99):
    """Chooses the Markov order on a validation slice at the end of the training region.

    Counts come from `[train_start, train_end - validation_length)` and the
    accuracy is measured on masked windows of the last `validation_length`
    bp of the training region; the held-out region is not used.

    Returns:
        (best_order, {order: validation accuracy}).
    """
    split = train_end - validation_length
    validation = heldout_masked_set(sequence, split, train_end, tokenizer, num_windows, window_length, seed=seed)
    scores = {}
    for order in orders:
        scores[order] = MarkovBaseline(order).fit(sequence, train_start, split).accuracy(validation, tokenizer.k)
    return max(scores, key=scores.get), scores


def compare_with_markov(fasta, weights, model_config, contig=None, holdout=10_000_000, num_windows=512, window_length=1004, orders=tuple(range(0, 11)), seed=1234, log=print):
    """Held-out masked-token accuracy: pre-trained LOGO, random LOGO, Markov chains.

    All models see the same masked windows of the last `holdout` bp (every
    selected token -> [MASK]) and predict among the `4**k` ACGT k-mers.
    Markov chains are fitted on the training region (both strands): order k
    (the token length) and the order chosen on a validation slice.
    """
    sequence, contig = read_contig(fasta, contig)
    backbone_config = json.loads(pathlib.Path(model_config).read_text())
    backbone = LogoBackbone.from_config(backbone_config)
    tokenizer = KmerTokenizer(k=backbone.k)
    train_end = len(sequence) - holdout
    heldout = heldout_masked_set(sequence, train_end, len(sequence), tokenizer, num_windows, window_length, seed=seed)
    results = {"num_masked": int(heldout.weights.sum()), "region": f"{contig}:{train_end}-{len(sequence)}"}
    pretrained = LogoMaskedLM(backbone)
    pretrained.load_weights(weights)
    results["logo_pretrained"] = evaluate_masked_lm(pretrained, heldout, tokenizer)
    log(f"pre-trained LOGO: {results['logo_pretrained']}")
    keras.utils.set_random_seed(seed)
    results["logo_random_init"] = evaluate_masked_lm(LogoMaskedLM(LogoBackbone.from_config(backbone_config)), heldout, tokenizer)
    best, validation = select_markov_order(sequence, 0, train_end, tokenizer, orders, window_length=window_length)
    results["markov_validation_accuracy_by_order"] = validation
    results["markov_best_order"] = best
    for order in sorted({tokenizer.k, best}):
        accuracy = MarkovBaseline(order).fit(sequence, 0, train_end).accuracy(heldout, tokenizer.k)
        results[f"markov_order_{order}"] = {"accuracy": accuracy}
        log(f"Markov order {order}: {accuracy:.4f}")
    return results


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kipoi_genome.training.logo_pretraining")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("evaluate", help="held-out masked-token accuracy vs Markov baselines")
    evaluate.add_argument("--fasta", required=True)
    evaluate.add_argument("--weights", required=True, help="masked_lm.weights.h5")
    evaluate.add_argument("--model-config", required=True, help="model_config.json (LogoBackbone config)")
    evaluate.add_argument("--contig", default=None)
    evaluate.add_argument("--holdout", type=int, default=10_000_000)
    evaluate.add_argument("--windows", type=int, default=512)
    evaluate.add_argument("--window-length", type=int, default=1004)
    evaluate.add_argument("--max-order", type=int, default=10)
    evaluate.add_argument("--output", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    results = compare_with_markov(
        args.fasta, args.weights, args.model_config, args.contig, args.holdout, args.windows,
        args.window_length, tuple(range(0, args.max_order + 1)),
    )
    text = json.dumps(results, indent=2)
    if args.output:
        pathlib.Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
