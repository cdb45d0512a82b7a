"""Baselines to compare trained models against.

- Track models: `build_dilated_conv_model`, `build_conv_attention_model`.
- LOGO masked LM: `MarkovBaseline` (order-o Markov chain predicting masked
  k-mers from the same visible context), `select_markov_order`,
  `compare_with_markov` (the held-out comparison of docs/logo.md, table 1;
  `compare_regions_with_markov` on several held-out regions at once).
- Sequence classifiers: `KmerLogisticRegression` (k-mer frequencies).

Small track models for comparisons: convolution-only, and the same with attention.

`build_dilated_conv_model` is convolution-only; `build_conv_attention_model`
adds content-based self-attention layers (Keras `MultiHeadAttention`, no
positional encoding) on top of the same trunk, so that a comparison isolates
what attention adds.

Architecture (all convolutions "same"-padded and bias-free, since every path meets a
BatchNorm, synchronized across replicas and with momentum 0.9 like Enformer's):

    one-hot (B, L, 4)
    -> stem: Conv1D(channels, 15), MaxPool(stem_pool)              (B, L/stem_pool, C)
    -> log2(bin_size/stem_pool) x [BN, GELU, Conv1D(C, 5), MaxPool(2)] (B, L/bin_size, C)
    -> num_dilated_layers x residual [BN, GELU, Conv1D(C, kernel, dilation 2^i),
                                      BN, GELU, Conv1D(C, 1)]
    -> centre crop to target_length bins                            (B, T, C)
    -> per head: Dense(n, softplus)                                 {head: (B, T, n)}

`receptive_field()` gives the receptive field of one output bin: with
`bin_size=128` and kernel 3 it is 16,778 bp for 6 dilated layers (1..32),
i.e. the centre bin sees +-8.4 kb, and 33,162 bp for 7 layers; Enformer's
attention spans the whole input.

This model lives in `training/` because it exists to be compared against in
training demonstrations; it is not a published architecture.
"""

import itertools
import math

import keras
import numpy as np

from kipoi_genome.data.transforms import reverse_complement
from kipoi_genome.training.metrics import auroc

__all__ = [
    "KmerLogisticRegression",
    "MarkovBaseline",
    "build_conv_attention_model",
    "build_dilated_conv_model",
    "compare_regions_with_markov",
    "compare_with_markov",
    "receptive_field",
    "select_markov_order",
]


def _check(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def receptive_field(bin_size=128, num_dilated_layers=6, kernel_size=3, stem_pool=1):
    """Receptive field in bp of one output bin of `build_dilated_conv_model`.

    Args:
        bin_size: int, a power of 2. Bin width in bp.
        num_dilated_layers: int >= 0.
        kernel_size: int >= 1. Kernel of the dilated convolutions.
        stem_pool: int, a power of 2. Max-pool width right after the stem.

    Returns:
        int. Number of input positions that can influence one output bin.
    """
    field, jump = 15, 1  # stem conv
    if stem_pool > 1:
        field += stem_pool - 1
        jump = stem_pool
    for _ in range(int(math.log2(bin_size // stem_pool))):
        field += 4 * jump  # conv width 5
        field += jump  # max pool 2 (window 2, stride 2)
        jump *= 2
    for i in range(num_dilated_layers):
        field += (kernel_size - 1) * (2**i) * jump
    return field


def build_dilated_conv_model(
    sequence_length,
    heads,
    bin_size=128,
    target_length=None,
    channels=32,
    num_dilated_layers=6,
    kernel_size=3,
    stem_pool=1,
    name="dilated_conv",
):
    """Builds the convolution-only baseline (see module docstring).

    Args:
        sequence_length: int. Input length L in bp, a multiple of `bin_size`.
        heads: dict str -> int. Output head name -> number of tracks.
        bin_size: int, a power of 2. Output resolution in bp. Defaults to 128.
        target_length: int or None. Central bins kept (None: all L/bin_size).
        channels: int. Width C of every layer. Defaults to 32.
        num_dilated_layers: int >= 0. Dilations 1, 2, ..., 2^(n-1).
        kernel_size: int. Kernel of the dilated convolutions. Defaults to 3.
        stem_pool: int, a power of 2 <= bin_size. Max-pool right after the
            stem convolution (8 makes the model about 5x cheaper at long
            inputs). Defaults to 1.
        name: str. Model name.

    Returns:
        A functional `keras.Model`: `(B, L, 4)` -> `{head: (B, T, n)}`.
    """
    return _build(
        sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
        0, 4, 16, name,
    )


def build_conv_attention_model(
    sequence_length,
    heads,
    bin_size=128,
    target_length=None,
    channels=32,
    num_dilated_layers=2,
    kernel_size=3,
    stem_pool=1,
    num_attention_layers=1,
    num_heads=4,
    key_dim=16,
    name="conv_attention",
):
    """The dilated-conv trunk followed by self-attention over all bins.

    Each attention layer is pre-norm and residual: `x + MHA(LN(x))`, then
    `x + MLP(LN(x))` (ReLU, width 2C). Attention is content-based (no
    positional encoding) and spans the whole input, `L / bin_size` bins.

    Args:
        sequence_length, heads, bin_size, target_length, channels,
            num_dilated_layers, kernel_size, stem_pool: as
            `build_dilated_conv_model`.
        num_attention_layers: int >= 1.
        num_heads: int. Attention heads.
        key_dim: int. Query/key size per head.
        name: str. Model name.

    Returns:
        A functional `keras.Model`: `(B, L, 4)` -> `{head: (B, T, n)}`.
    """
    _check(num_attention_layers, "num_attention_layers")
    _check(num_heads, "num_heads")
    _check(key_dim, "key_dim")
    return _build(
        sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
        num_attention_layers, num_heads, key_dim, name,
    )


def _build(
    sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
    num_attention_layers, num_heads, key_dim, name,
):
    _check(sequence_length, "sequence_length")
    _check(bin_size, "bin_size")
    _check(channels, "channels")
    _check(num_dilated_layers, "num_dilated_layers", minimum=0)
    _check(kernel_size, "kernel_size")
    if bin_size & (bin_size - 1):
        raise ValueError(f"`bin_size` must be a power of 2. Received: bin_size={bin_size}")
    _check(stem_pool, "stem_pool")
    if stem_pool & (stem_pool - 1) or stem_pool > bin_size:
        raise ValueError(
            f"`stem_pool` must be a power of 2 <= bin_size. Received: stem_pool={stem_pool}, bin_size={bin_size}"
        )
    if sequence_length % bin_size:
        raise ValueError(
            "`sequence_length` must be a multiple of `bin_size`. "
            f"Received: sequence_length={sequence_length}, bin_size={bin_size}"
        )
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"`heads` must be a non-empty dict name -> tracks. Received: heads={heads!r}")
    num_bins = sequence_length // bin_size
    target_length = num_bins if target_length is None else target_length
    _check(target_length, "target_length")
    if target_length > num_bins or (num_bins - target_length) % 2:
        raise ValueError(
            f"`target_length` must be <= {num_bins} bins and leave an even crop. "
            f"Received: target_length={target_length}"
        )

    def norm_act(x, label):
        x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"{label}_bn")(x)
        return keras.layers.Activation("gelu", name=f"{label}_gelu")(x)

    inputs = keras.Input((sequence_length, 4), name="sequence")
    x = keras.layers.Conv1D(channels, 15, padding="same", use_bias=False, name="stem_conv")(inputs)
    if stem_pool > 1:
        x = keras.layers.MaxPooling1D(stem_pool, name="stem_pool")(x)
    for i in range(int(math.log2(bin_size // stem_pool))):
        x = norm_act(x, f"down_{i}")
        x = keras.layers.Conv1D(
            channels, 5, padding="same", use_bias=False, name=f"down_{i}_conv"
        )(x)
        x = keras.layers.MaxPooling1D(2, name=f"down_{i}_pool")(x)
    for i in range(num_dilated_layers):
        y = norm_act(x, f"dilated_{i}_a")
        y = keras.layers.Conv1D(
            channels,
            kernel_size,
            dilation_rate=2**i,
            padding="same",
            use_bias=False,
            name=f"dilated_{i}_conv",
        )(y)
        y = norm_act(y, f"dilated_{i}_b")
        y = keras.layers.Conv1D(channels, 1, use_bias=False, name=f"dilated_{i}_pointwise")(y)
        x = keras.layers.Add(name=f"dilated_{i}_residual")([x, y])
    for i in range(num_attention_layers):
        y = keras.layers.LayerNormalization(name=f"attention_{i}_norm")(x)
        y = keras.layers.MultiHeadAttention(num_heads, key_dim, name=f"attention_{i}_mha")(y, y)
        x = keras.layers.Add(name=f"attention_{i}_residual")([x, y])
        y = keras.layers.LayerNormalization(name=f"attention_{i}_mlp_norm")(x)
        y = keras.layers.Dense(2 * channels, activation="relu", name=f"attention_{i}_mlp_in")(y)
        y = keras.layers.Dense(channels, name=f"attention_{i}_mlp_out")(y)
        x = keras.layers.Add(name=f"attention_{i}_mlp_residual")([x, y])
    crop = (num_bins - target_length) // 2
    if crop:
        x = keras.layers.Cropping1D(crop, name="crop")(x)
    x = norm_act(x, "final")
    outputs = {
        head: keras.layers.Dense(int(n), activation="softplus", name=f"head_{head}")(x)
        for head, n in heads.items()
    }
    return keras.Model(inputs, outputs, name=name)


# ----------------------------------------------------------------------------
# LOGO masked LM: Markov chains over bases
# ----------------------------------------------------------------------------


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
        return self.fit_regions([(sequence, start, end)])

    def fit_regions(self, regions):
        """`fit` on several regions (e.g. the training regions of chr20 and chrX), counts summed.

        Args:
            regions: list of `(sequence, start, end)`.
        """
        counts = [np.zeros(4 ** (l + 1), np.int64) for l in range(self.order + 1)]
        for sequence, start, end in regions:
            codes = _base_codes(sequence[start:end])
            for run in _acgt_runs(codes):
                for strand in (run, 3 - run[::-1]):  # A0 C1 G2 T3: complement = 3 - code
                    for l in range(self.order + 1):
                        if len(strand) > l:
                            counts[l] += np.bincount(_rolling_codes(strand, l + 1), minlength=4 ** (l + 1))
            del codes
        self.log_probs = []
        for l, c in enumerate(counts):
            table = c.reshape(4**l, 4).astype(np.float64) + self.alpha
            self.log_probs.append(np.log(table / table.sum(axis=1, keepdims=True)))
        return self

    def truncated(self, order):
        """The chain of a lower `order` from the same counts (no refit: tables 0..order are shared)."""
        if self.log_probs is None or not 0 <= order <= self.order:
            raise ValueError(f"`order` must be within 0..{self.order} of a fitted chain. Received: order={order}")
        chain = MarkovBaseline(order, alpha=self.alpha)
        chain.log_probs = self.log_probs[: order + 1]
        return chain

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


def select_markov_order(sequence, train_start, train_end, tokenizer, orders, validation_length=5_000_000, num_windows=256, window_length=1004, seed=99):
    """Chooses the Markov order on a validation slice at the end of the training region.

    Counts come from `[train_start, train_end - validation_length)` and the
    accuracy is measured on masked windows of the last `validation_length`
    bp of the training region; the held-out region is not used.

    Returns:
        (best_order, {order: validation accuracy}).
    """
    split = train_end - validation_length
    from kipoi_genome.training.logo_tasks import heldout_masked_set

    validation = heldout_masked_set(sequence, split, train_end, tokenizer, num_windows, window_length, seed=seed)
    scores = {}
    for order in orders:
        scores[order] = MarkovBaseline(order).fit(sequence, train_start, split).accuracy(validation, tokenizer.k)
    return max(scores, key=scores.get), scores


def compare_with_markov(sequence, contig, masked_lm, holdout=10_000_000, num_windows=512, window_length=1004,
                        orders=tuple(range(0, 11)), seed=1234, validation_length=5_000_000, log=print):
    """Held-out masked-token accuracy: a LOGO masked LM, the same at random init, Markov chains.

    All models see the same masked windows of the last `holdout` bp (every
    selected token -> [MASK]) and predict among the `4**k` ACGT k-mers.
    Markov chains are fitted on the training region (both strands): order k
    (the token length) and the order chosen on a validation slice.

    Args:
        sequence: str. The contig (`data.genome_windows.read_contig`).
        contig: str. Its name.
        masked_lm: `LogoMaskedLM` with the weights to evaluate.
        holdout: int. Held-out length at the contig's end.
        num_windows, window_length, seed: the held-out masked set.
        orders: Markov orders tried on the validation slice.
        validation_length: int. The validation slice: the last bp of the
            training region (counts come from the rest of it).
        log: callable taking one line, or None.

    Returns:
        dict of results (docs/logo.md, table 1).
    """
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM
    from kipoi_genome.tokenizers import KmerTokenizer
    from kipoi_genome.training.logo_tasks import heldout_masked_set
    from kipoi_genome.training.metrics import evaluate_masked_lm

    log = log or (lambda line: None)
    tokenizer = KmerTokenizer(k=masked_lm.backbone.k)
    train_end = len(sequence) - holdout
    if not 0 < validation_length < train_end:
        raise ValueError(
            f"`validation_length` must be inside the training region (the first {train_end} bp of {contig}). "
            f"Received: validation_length={validation_length}, holdout={holdout}"
        )
    heldout = heldout_masked_set(sequence, train_end, len(sequence), tokenizer, num_windows, window_length, seed=seed)
    results = {"num_masked": int(heldout.weights.sum()), "region": f"{contig}:{train_end + 1}-{len(sequence)}"}
    results["logo_pretrained"] = evaluate_masked_lm(masked_lm, heldout, tokenizer)
    log(f"pre-trained LOGO: {results['logo_pretrained']}")
    keras.utils.set_random_seed(seed)
    random_model = LogoMaskedLM(LogoBackbone.from_config(masked_lm.backbone.get_config()))
    results["logo_random_init"] = evaluate_masked_lm(random_model, heldout, tokenizer)
    best, validation = select_markov_order(
        sequence, 0, train_end, tokenizer, orders, validation_length=validation_length, window_length=window_length
    )
    results["markov_validation_accuracy_by_order"] = validation
    results["markov_best_order"] = best
    for order in sorted({tokenizer.k, best}):
        accuracy = MarkovBaseline(order).fit(sequence, 0, train_end).accuracy(heldout, tokenizer.k)
        results[f"markov_order_{order}"] = {"accuracy": accuracy}
        log(f"Markov order {order}: {accuracy:.4f}")
    return results


def compare_regions_with_markov(sequences, train_regions, eval_regions, masked_lm, num_windows=512,
                                window_length=1004, orders=(5, 10), seed=1234, log=print):
    """Held-out masked-token accuracy on several held-out regions (e.g. chr20's and chrX's).

    Like `compare_with_markov`, with fixed Markov `orders` (no validation
    slice) counted once on all training regions together (both strands);
    each held-out region gets its own masked set and results.

    Args:
        sequences: dict contig -> sequence (`data.genome_windows.read_contigs`).
        train_regions, eval_regions: lists of `(contig, start, end)`,
            0-based half-open (`data.genome_windows.genome_regions`).
        masked_lm: `LogoMaskedLM` with the weights to evaluate.
        num_windows, window_length, seed: each held-out masked set.
        orders: Markov orders reported.
        log: callable taking one line, or None.

    Returns:
        dict: `train_regions`, and `regions`: `contig:start-end` (1-based) ->
        `num_masked`, `logo_pretrained`, `logo_random_init`,
        `markov_order_<o>`.
    """
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM
    from kipoi_genome.tokenizers import KmerTokenizer
    from kipoi_genome.training.logo_tasks import heldout_masked_set
    from kipoi_genome.training.metrics import evaluate_masked_lm

    log = log or (lambda line: None)
    tokenizer = KmerTokenizer(k=masked_lm.backbone.k)
    keras.utils.set_random_seed(seed)
    random_model = LogoMaskedLM(LogoBackbone.from_config(masked_lm.backbone.get_config()))
    chain = MarkovBaseline(max(orders)).fit_regions([(sequences[c], start, end) for c, start, end in train_regions])
    text = [f"{c}:{start + 1}-{end}" for c, start, end in train_regions]
    log(f"Markov chains counted on {', '.join(text)}")
    results = {"train_regions": text, "regions": {}}
    for contig, start, end in eval_regions:
        heldout = heldout_masked_set(sequences[contig], start, end, tokenizer, num_windows, window_length, seed=seed)
        region = {"num_masked": int(heldout.weights.sum())}
        region["logo_pretrained"] = evaluate_masked_lm(masked_lm, heldout, tokenizer)
        region["logo_random_init"] = evaluate_masked_lm(random_model, heldout, tokenizer)
        for order in orders:
            region[f"markov_order_{order}"] = {"accuracy": chain.truncated(order).accuracy(heldout, tokenizer.k)}
        name = f"{contig}:{start + 1}-{end}"
        log(f"{name}: LOGO {region['logo_pretrained']['accuracy']:.4f}, "
            + ", ".join(f"Markov order {o} {region[f'markov_order_{o}']['accuracy']:.4f}" for o in orders))
        results["regions"][name] = region
    return results


# ----------------------------------------------------------------------------
# Sequence classifiers: k-mer logistic regression
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
                for strand in (sequence.upper(), reverse_complement(sequence.upper())):
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
