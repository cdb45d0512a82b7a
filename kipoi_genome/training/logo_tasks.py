"""LOGO pre-training and fine-tuning as tasks of the generic trainer.

Both tasks run under `kipoi-genome train` with every strategy, reusing the
LOGO pieces of `kipoi_genome.models.logo` and `kipoi_genome.tokenizers`; the
genome windows come from `kipoi_genome.data.genome_windows`, the labelled
tables from `kipoi_genome.data.sequence_tables`.

Task `logo_mlm` (masked-LM pre-training; also `kipoi-genome pretrain logo`,
through `pretrain`):

```yaml
task: logo_mlm
model: {embedding_dim: 32, hidden_dim: 64, ...}   # LogoBackbone arguments (vocabulary from k)
data:
  fasta: ../shared/data/reference/GRCh37_chr20.fa.gz   # or a list of FASTAs
  contig: chr20                        # or a list; default: the first contig of each FASTA
  train_region: chr20:1-53025520       # 1-based inclusive (samtools), or a list; default: all but the holdout
  eval_region: chr20:53025521-63025520 # or a list; default: the last `holdout` bp of each contig
  holdout: 10000000                    # bp at the end of EACH contig, or {"*": 10000000, chrX: 7000000}
  k: 5
  window_length: 1004
  max_n_fraction: 0.05
  mask_rate: 0.15
  eval_windows: 256
```

Several contigs (chr20 and chrX): windows are drawn across the training
regions in proportion to their usable windows (`data.genome_windows.
RegionWindows`), still from stateless `(seed, batch)` seeds; each held-out
region is its own evaluation stream (`heldout` with one region, else
`heldout_<contig>`). `model: {init_from: PRESET_OR_FILE}` warm-starts from a
LogoMaskedLM preset, `.keras`, `.weights.h5` (with `model_config.json` next to
it) or a `pretrain logo` output folder, before step 0; the backbone config
is the source's, and any `model` key that contradicts it is refused.

Batches are `({"token_ids", "mask_positions"}, labels [B, P], weights [B, P])`;
the loss is cross-entropy at masked positions normalised by the number of
masked positions in the GLOBAL batch; evaluation reports, on a fixed
held-out masked set (every selected token -> [MASK]), the loss (mean
negative log-likelihood: perplexity = exp(loss)), `masked_accuracy` (argmax
over the vocabulary) and `kmer_accuracy` (argmax over the `4**k` ACGT
k-mers, as `baselines.MarkovBaseline` predicts).

Task `logo_classifier` (fine-tuning a sequence classifier, e.g. promoters):

```yaml
task: logo_classifier
model:
  backbone: {embedding_dim: 32, hidden_dim: 64, ...}   # or omit with `pretrained`
  pretrained: runs/logo_mlm/final.weights.h5           # optional: weights of a logo_mlm run
  pooling: mean
  dropout: 0.25
data:
  table: ../shared/data/labeled/GRCh37_chr20_promoters_300bp.csv.gz   # columns sequence, label, split
  k: 5
```

Each training example is one random strand and reading frame of a `train`
sequence (drawn per batch from `(seed, batch index)`); evaluation uses
`valid` (forward strand, frame 0) and reports accuracy and AUROC.
"""

import dataclasses
import functools
import json
import math
import os

import numpy as np
import tensorflow as tf

from kipoi_genome.data.genome_windows import RandomWindows, RegionWindows, genome_regions, read_contigs, window_draws
from kipoi_genome.training import losses
from kipoi_genome.training.metrics import KmerAccuracy, SparseAccuracy, acgt_kmer_ids, auroc
from kipoi_genome.training.task import DataStream, Task, register_task

__all__ = [
    "BinaryAUROC",
    "MaskedSet",
    "PretrainConfig",
    "build_logo_classifier_task",
    "build_logo_mlm_task",
    "heldout_masked_set",
    "heldout_stream_names",
    "pretrain",
    "pretraining_dataset",
    "warm_start",
]


def _tokenizer(k):
    from kipoi_genome.tokenizers import KmerTokenizer

    return KmerTokenizer(k=int(k))


def _masked_lm(backbone_args, k, window_length, warm_start=None):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM

    if warm_start is not None:
        args, load = warm_start
        model = LogoMaskedLM(LogoBackbone(**args))
        load(model)
        return model
    tokenizer = _tokenizer(k)
    args = {
        "vocabulary_size": tokenizer.vocabulary_size,
        "max_sequence_length": max(512, tokenizer.num_tokens(window_length)),
        **backbone_args,
    }
    return LogoMaskedLM(LogoBackbone(**args))


def _init_source(init_from):
    """`(backbone config, load(model))` of a warm start's source (see `warm_start`)."""
    from kipoi_genome.models.logo import LogoMaskedLM
    from kipoi_genome.models.presets import get_preset, list_presets

    text = os.fspath(init_from)
    names = list_presets("LogoMaskedLM")
    if text in names:
        preset = get_preset(text)
        path = preset.weights_path()
        if path is None:
            raise ValueError(f"--init-from preset {text!r} has no trained weights. Presets with weights: {names}")
        return dict(preset.config["backbone"]), lambda model: model.load_weights(path)
    if text.endswith(".keras"):
        from kipoi_genome.models import load_model

        source = load_model(text, progress=False)
        if not isinstance(source, LogoMaskedLM):
            raise ValueError(f"--init-from {text}: a {type(source).__name__}, not a LOGO masked LM (LogoMaskedLM)")
        weights = source.get_weights()
        return source.backbone.get_config(), lambda model: model.set_weights(weights)
    folder, weights = (text, os.path.join(text, "masked_lm.weights.h5")) if os.path.isdir(text) else (
        os.path.dirname(text), text)
    config_path = os.path.join(folder, "model_config.json")
    if not weights.endswith(".weights.h5") or not os.path.isfile(weights) or not os.path.isfile(config_path):
        raise ValueError(
            f"--init-from takes a LogoMaskedLM preset {names}, a .keras file, a .weights.h5 file with "
            f"model_config.json next to it, or a `pretrain logo` output folder. Received: {text!r}"
        )
    with open(config_path) as handle:
        try:
            config = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{config_path}: line {error.lineno}: not JSON ({error.msg})") from None
    return config, lambda model: model.load_weights(weights)


def warm_start(init_from, backbone_args, k, window_length):
    """The backbone arguments and weight loader of a masked LM warm-started from `init_from`.

    Args:
        init_from: a `LogoMaskedLM` preset name (e.g. `logo_5mer_chr20_mlm`),
            a `.keras` file, a `.weights.h5` file with the `model_config.json`
            `pretrain logo` writes next to it, or such an output folder.
        backbone_args: dict of `LogoBackbone` overrides; each must agree
            with the source's configuration.
        k: int. Token length of the run (its vocabulary must be the source's).
        window_length: int. bp per window (its tokens must fit the source's
            position table).

    Returns:
        `(args, load)`: the source's `LogoBackbone` arguments and a function
        loading its weights into a model built from them.

    Raises:
        ValueError: an unknown source, or a configuration that differs from
            the source's (one line naming the keys and both values).
    """
    from kipoi_genome.models.logo import LogoBackbone

    config, load = _init_source(init_from)
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    full = LogoBackbone(**config).get_config()
    tokenizer = _tokenizer(k)
    wanted = {**backbone_args, "vocabulary_size": tokenizer.vocabulary_size}
    differing = {key: (full.get(key), value) for key, value in wanted.items() if full.get(key) != value}
    if differing:
        text = ", ".join(f"{key}={ours!r} (source: {theirs!r})" for key, (theirs, ours) in sorted(differing.items()))
        raise ValueError(f"--init-from {os.fspath(init_from)} has another configuration than this run: {text} (k={k})")
    if tokenizer.num_tokens(window_length) > full["max_sequence_length"]:
        raise ValueError(
            f"--init-from {os.fspath(init_from)} holds {full['max_sequence_length']} positions; windows of "
            f"{window_length} bp need {tokenizer.num_tokens(window_length)}. Received: window_length={window_length}"
        )
    return config, load


# ----------------------------------------------------------------------------
# Masked windows
# ----------------------------------------------------------------------------


def pretraining_dataset(windows, batch_size, seed=0, mask_rate=0.15, first_batch=0):
    """`tf.data` of masked batches `(features, labels, weights)` from a region.

    Pure TensorFlow, no per-sample Python: batch `i` takes the window
    starts, strands and reading frames `data.genome_windows.window_draws`
    draws for `(seed, i)`, gathers the base codes, tokenizes them and masks
    `mask_rate` of the tokens (dynamic masking: new masks every batch). A
    run resumed at step `s` continues with `first_batch=s` exactly where an
    uninterrupted run would be.

    Args:
        windows: `data.genome_windows.RandomWindows` or `RegionWindows`
            (region, tokenizer, window length, N limit).
        batch_size: int. Windows per batch.
        seed: int.
        mask_rate: float. Fraction of tokens selected for prediction.
        first_batch: int. Index of the first batch produced.

    Returns:
        `tf.data.Dataset` of `({"token_ids": [B, m], "mask_positions": [B, P]},
        labels [B, P], weights [B, P])`.
    """
    from kipoi_genome.models.logo import mask_tokens
    from kipoi_genome.tokenizers import base_codes

    tokenizer = windows.tokenizer
    length = windows.window_length
    m = tokenizer.num_tokens(length)
    codes = tf.constant(base_codes(windows.region))  # uint8 [R]

    def make_batch(draw):
        batch = tf.cast(tf.gather(codes, draw["offsets"][:, None] + tf.range(length)), tf.int32)  # [B, L]
        forward = tokenizer.tokenize_codes(batch)  # [B, k, m]
        reverse = tokenizer.tokenize_codes(batch, reverse_complement=True)
        views = tf.where(draw["strands"][:, None, None] == 1, reverse, forward)
        token_ids = tf.ensure_shape(tf.gather(views, draw["frames"], batch_dims=1), [batch_size, m])
        return mask_tokens(
            token_ids,
            draw["mask_seed"],
            mask_rate=mask_rate,
            random_token_range=(tokenizer.first_kmer_id, tokenizer.last_kmer_id),
        )

    draws = window_draws(windows, batch_size, seed=seed, first_batch=first_batch)
    return draws.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


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
    """Fixed masked windows from a region (0-based, half-open), all without N, every selection -> [MASK]."""
    from kipoi_genome.models.logo import mask_tokens

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


# ----------------------------------------------------------------------------
# Task logo_mlm
# ----------------------------------------------------------------------------


def _listed(value):
    """None, one value or a list of them -> tuple (hashable, for the cache below)."""
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (os.fspath(value),)
    return tuple(os.fspath(item) for item in value)


@functools.lru_cache(maxsize=1)
def _contigs(fastas, contigs):
    return read_contigs(list(fastas), list(contigs) or None)


def _mlm_train_dataset(global_batch_size, seed, start_batch, sequences, regions, k, window_length, max_n_fraction,
                       mask_rate):
    tokenizer = _tokenizer(k)
    windows = RegionWindows([
        RandomWindows(sequences[contig], start, end, tokenizer, window_length, max_n_fraction, seed=seed)
        for contig, start, end in regions
    ])
    # Batch i is a function of (seed, i): the same stream as an uninterrupted run.
    return pretraining_dataset(windows, global_batch_size, seed=seed, mask_rate=mask_rate, first_batch=start_batch)


def _region_text(region):
    return f"{region[0]}:{region[1] + 1}-{region[2]}"


def heldout_stream_names(regions):
    """Evaluation stream names of held-out regions: `heldout` for one, else `heldout_<contig>`."""
    if len(regions) == 1:
        return ["heldout"]
    names = [f"heldout_{contig}" for contig, _, _ in regions]
    return [name if names.count(name) == 1 else f"{name}_{start + 1}" for name, (_, start, _) in zip(names, regions)]


def _mlm_eval_dataset(global_batch_size, seed, start_batch, masked):
    """The held-out set in full global batches, the last one padded with rows of weight 0."""
    del seed
    rows = len(masked.labels)
    pad = -rows % global_batch_size

    def padded(array, fill=None):
        extra = np.repeat(array[:1], pad, axis=0) if fill is None else np.full((pad, *array.shape[1:]), fill, array.dtype)
        return np.concatenate([array, extra])

    features = {key: padded(value) for key, value in masked.features.items()}
    dataset = tf.data.Dataset.from_tensor_slices((features, padded(masked.labels), padded(masked.weights, 0)))
    return dataset.batch(global_batch_size, drop_remainder=True).skip(start_batch)


MLM_DATA_KEYS = ("fasta", "contig", "train_region", "eval_region", "holdout", "k", "window_length", "max_n_fraction",
                 "mask_rate", "eval_windows")


@register_task("logo_mlm")
def build_logo_mlm_task(config):
    """Task builder for `task: logo_mlm` (see module docstring)."""
    data = dict(config.data)
    unknown = sorted(set(data) - set(MLM_DATA_KEYS))
    if unknown:
        raise ValueError(f"Unknown key(s) in `data` for task logo_mlm: {unknown}. Expected some of {list(MLM_DATA_KEYS)}.")
    if not data.get("fasta"):
        raise ValueError(f"`data.fasta` is required for task logo_mlm. Received keys: {sorted(data)}")
    k = int(data.get("k", 5))
    window_length = int(data.get("window_length", 1004))
    model_args = dict(config.model)
    init_from = model_args.pop("init_from", None)
    warm = warm_start(init_from, model_args, k, window_length) if init_from else None
    sequences = _contigs(_listed(data["fasta"]), _listed(data.get("contig")))
    holdout = data.get("holdout", 10_000_000)
    holdout = dict(holdout) if isinstance(holdout, dict) else int(holdout)
    train_regions, eval_regions = genome_regions(
        {contig: len(sequence) for contig, sequence in sequences.items()},
        data.get("train_region"), data.get("eval_region"), holdout,
    )
    tokenizer = _tokenizer(k)
    mask_rate = float(data.get("mask_rate", 0.15))
    eval_streams, streams = {}, {}
    for name, region in zip(heldout_stream_names(eval_regions), eval_regions):
        heldout = heldout_masked_set(
            sequences[region[0]], region[1], region[2], tokenizer, num_windows=int(data.get("eval_windows", 256)),
            window_length=window_length, mask_rate=mask_rate,
        )
        eval_streams[name] = DataStream(functools.partial(_mlm_eval_dataset, masked=heldout))
        streams[name] = {"region": _region_text(region), "num_masked": int(heldout.weights.sum())}
    kmer_ids = acgt_kmer_ids(tokenizer)[0]
    train = functools.partial(
        _mlm_train_dataset, sequences=sequences, regions=train_regions, k=k, window_length=window_length,
        max_n_fraction=float(data.get("max_n_fraction", 0.05)), mask_rate=mask_rate,
    )
    return Task(
        build_model=functools.partial(_masked_lm, model_args, k, window_length, warm),
        loss=losses.masked_sparse_categorical_crossentropy,
        train_streams={"mlm": DataStream(train)},
        eval_streams=eval_streams,
        eval_metrics=lambda: {"masked_accuracy": SparseAccuracy(), "kmer_accuracy": KmerAccuracy(kmer_ids)},
        metadata={
            "contig": ",".join(sequences),
            "k": k,
            "train_region": ",".join(_region_text(region) for region in train_regions),
            "eval_region": ",".join(_region_text(region) for region in eval_regions),
            "num_masked": sum(stream["num_masked"] for stream in streams.values()),
            "eval_streams": streams,
            "init_from": None if init_from is None else os.fspath(init_from),
        },
    )


class BinaryAUROC:
    """AUROC of binary predictions; statistics are the (label, score) pairs themselves.

    `statistics` returns `(B, 2)` per replica; the trainer stacks replicas,
    and `update_state` keeps every pair, so the result is exact.
    """

    def __init__(self):
        self.reset_state()

    def reset_state(self):
        """Forgets every batch seen so far."""
        self._pairs = []

    @staticmethod
    def statistics(y_true, y_pred, sample_weight=None):
        """`(B, 2)` float32: label and score of each example (first output)."""
        del sample_weight
        labels = tf.reshape(tf.cast(y_true, tf.float32), [tf.shape(y_true)[0], -1])[:, 0]
        scores = tf.reshape(tf.cast(y_pred, tf.float32), [tf.shape(y_pred)[0], -1])[:, 0]
        return tf.stack([labels, scores], axis=-1)

    def update_state(self, statistics):
        """Adds pairs `(B, 2)` or `(R, B, 2)`."""
        self._pairs.append(np.asarray(statistics, np.float64).reshape(-1, 2))

    def result(self):
        """Area under the ROC curve (ties count one half); NaN with one class."""
        pairs = np.concatenate(self._pairs) if self._pairs else np.zeros((0, 2))
        return auroc(pairs[:, 0] > 0.5, pairs[:, 1])


class _BinaryAccuracy(SparseAccuracy):
    @staticmethod
    def statistics(y_true, y_pred, sample_weight=None):
        correct = tf.cast(tf.equal(tf.cast(y_true, tf.float32) > 0.5, tf.cast(y_pred, tf.float32) > 0.5), tf.float32)
        return tf.stack([tf.reduce_sum(correct), tf.cast(tf.size(correct), tf.float32)])


def _classifier(model_config, k):
    from kipoi_genome.models.logo import LogoSequenceClassifier

    model_config = dict(model_config)
    pretrained = model_config.pop("pretrained", None)
    backbone_args = model_config.pop("backbone", {})
    window_length = model_config.pop("pretrained_window_length", 1004)
    if pretrained:
        masked_lm = _masked_lm(backbone_args, k, window_length)
        masked_lm.load_weights(pretrained)
        backbone = masked_lm.backbone
    else:
        tokenizer = _tokenizer(k)
        backbone = {"vocabulary_size": tokenizer.vocabulary_size, "max_sequence_length": 512, **backbone_args}
    return LogoSequenceClassifier(backbone, **model_config)


def _classifier_train_dataset(global_batch_size, seed, start_batch, views, labels):
    def make(index):
        rng = np.random.default_rng([int(seed), 17, int(index)])
        rows = rng.integers(0, len(views), size=global_batch_size)
        frames = rng.integers(0, views.shape[1], size=global_batch_size)
        return views[rows, frames], labels[rows]

    def wrapped(index):
        x, y = tf.numpy_function(make, [index], (tf.int32, tf.float32), stateful=False)
        x.set_shape([global_batch_size, views.shape[2]])
        y.set_shape([global_batch_size, 1])
        return x, y

    return tf.data.Dataset.range(start_batch, np.iinfo(np.int64).max).map(wrapped).prefetch(2)


def _classifier_eval_dataset(global_batch_size, seed, start_batch, tokens, labels):
    del seed
    dataset = tf.data.Dataset.from_tensor_slices((tokens, labels))
    return dataset.batch(global_batch_size, drop_remainder=True).skip(start_batch)


def _binary_crossentropy(y_true, y_pred):
    """Element-wise binary cross-entropy of probabilities, float32 `(B, 1)`."""
    y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), 1e-7, 1.0 - 1e-7)
    y_true = tf.cast(y_true, tf.float32)
    return -(y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred))


@register_task("logo_classifier")
def build_logo_classifier_task(config):
    """Task builder for `task: logo_classifier` (see module docstring)."""
    from kipoi_genome.data.sequence_tables import read_sequence_table

    data = dict(config.data)
    known = {"table", "k"}
    unknown = sorted(set(data) - known)
    if unknown or "table" not in data:
        raise ValueError(f"`data` for task logo_classifier needs `table` (and optional `k`). Received keys: {sorted(data)}")
    k = int(data.get("k", 5))
    table = read_sequence_table(data["table"], labels=True)
    missing = {"sequence", "label", "split"} - set(table.columns)
    if missing:
        raise ValueError(f"`data.table` lacks column(s) {sorted(missing)}. Received columns: {list(table.columns)}")
    tokenizer = _tokenizer(k)
    train = table[table["split"] == "train"]
    valid = table[table["split"] == "valid"]
    if not len(train) or not len(valid):
        raise ValueError(f"`data.table` needs train and valid rows. Received splits: {sorted(set(table['split']))}")
    views = np.stack(
        [np.concatenate([tokenizer.tokenize(s), tokenizer.tokenize(s, reverse_complement=True)]) for s in train["sequence"]]
    ).astype(np.int32)  # (N, 2k, m): every strand and frame
    train_labels = train["label"].to_numpy(np.float32)[:, None]
    valid_tokens = np.stack([tokenizer.tokenize(s)[0] for s in valid["sequence"]]).astype(np.int32)
    valid_labels = valid["label"].to_numpy(np.float32)[:, None]
    return Task(
        build_model=functools.partial(_classifier, dict(config.model), k),
        loss=_binary_crossentropy,
        train_streams={"train": DataStream(functools.partial(_classifier_train_dataset, views=views, labels=train_labels))},
        eval_streams={
            "valid": DataStream(functools.partial(_classifier_eval_dataset, tokens=valid_tokens, labels=valid_labels))
        },
        eval_metrics=lambda: {"accuracy": _BinaryAccuracy(), "auroc": BinaryAUROC()},
        metadata={"k": k, "num_train": len(train), "num_valid": len(valid)},
    )



# ----------------------------------------------------------------------------
# `kipoi-genome pretrain logo`: the logo_mlm task with LOGO's recipe
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class PretrainConfig:
    """Settings of `pretrain` (the flags of `kipoi-genome pretrain logo`).

    `fasta`, `contig`, `train_region` and `eval_region` take one value or a
    list. Regions are `chrom:start-end`, 1-based inclusive; without them the
    last `holdout` bp of EACH contig are held out (an int, or a dict contig
    -> bp with a `"*"` default, `data.genome_windows.parse_holdout`).
    `init_from` warm-starts from a masked LM (`warm_start`). `batch_size` is
    global.
    """

    fasta: object
    output: str
    contig: object = None
    train_region: object = None
    eval_region: object = None
    holdout: object = 10_000_000
    k: int = 5
    window_length: int = 1004
    max_n_fraction: float = 0.05
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    checkpoint_every: int = 200
    eval_every: int = 0  # 0: only at the end
    eval_windows: int = 256
    seed: int = 0
    max_minutes: float = 0.0  # 0: no time limit; else stop (checkpoint, evaluate, save) after this
    backbone: dict = dataclasses.field(default_factory=dict)  # LogoBackbone overrides
    init_from: str = None  # warm start: LogoMaskedLM preset, .keras, .weights.h5 or pretrain output folder
    mixed_precision: bool = False  # bfloat16 compute, float32 variables
    progress: bool = True  # log (and print) the loss every 10 steps; else every steps / 10


def pretrain_train_config(config, num_replicas=1):
    """The `TrainConfig` (task `logo_mlm`) of a `PretrainConfig`.

    LOGO's recipe on the generic trainer: AdamW (no weight decay on biases,
    LayerNorm and embeddings), linear warm-up then cosine decay to 5 % of
    the peak, global-norm clipping of the summed gradient.
    """
    from kipoi_genome.training.config import TrainConfig

    if config.batch_size % num_replicas:
        raise ValueError(
            f"`batch_size` must be divisible by the number of replicas ({num_replicas}). "
            f"Received: batch_size={config.batch_size}"
        )
    def plain(value):
        listed = list(_listed(value))
        return None if not listed else listed[0] if len(listed) == 1 else listed

    data = {
        "fasta": plain(config.fasta), "contig": plain(config.contig), "train_region": plain(config.train_region),
        "eval_region": plain(config.eval_region), "holdout": config.holdout, "k": config.k,
        "window_length": config.window_length, "max_n_fraction": config.max_n_fraction,
        "eval_windows": config.eval_windows,
    }
    return TrainConfig.from_dict({
        "task": "logo_mlm",
        "seed": config.seed,
        "output_dir": os.fspath(config.output),
        "train": {
            "steps": config.steps, "per_replica_batch_size": config.batch_size // num_replicas,
            "checkpoint_every": config.checkpoint_every, "keep_checkpoints": 2, "log_every": 10 if config.progress else max(1, config.steps // 10),
            "eval_every": config.eval_every, "mixed_precision": config.mixed_precision,
            "max_minutes": config.max_minutes or None,
        },
        "optimizer": {
            "name": "adamw", "learning_rate": config.learning_rate, "warmup_steps": config.warmup_steps,
            "global_clipnorm": config.clipnorm, "weight_decay": config.weight_decay,
            "no_weight_decay": ["bias", "gamma", "beta", "embedding"], "decay": "cosine", "decay_alpha": 0.05,
        },
        "model": {**config.backbone, **({"init_from": os.fspath(config.init_from)} if config.init_from else {})},
        "data": {key: value for key, value in data.items() if value is not None},
    })


def pretrain(config, strategy=None):
    """Pre-trains a `LogoMaskedLM` on the generic trainer; returns a dict of final metrics.

    Runs `trainer.train` on `pretrain_train_config(config)`: checkpoints
    under `config.output/checkpoints` (rerunning with the same output folder
    resumes), `train_log.jsonl`, `eval.json`, `final.weights.h5`. Then writes
    `masked_lm.weights.h5` (the same weights), `masked_lm.keras` (a float32
    model every command and `kipoi-genome finetune --model` accept),
    `model_config.json` (the `LogoBackbone` config, float32), `log.csv`
    (step, loss, learning rate and held-out metrics), `config.json` and
    `result.json`.

    Args:
        config: `PretrainConfig`.
        strategy: optional `tf.distribute.Strategy` (default: the current one).

    Returns:
        dict: `step`, `train` (last loss) and `heldout` (`accuracy` among the
        ACGT k-mers, `accuracy_full_vocabulary`, `perplexity`, `num_masked`,
        `region`); with several held-out regions, `heldout` maps each stream
        (`heldout_chr20`, ...) to such a dict.
    """
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM
    from kipoi_genome.training.trainer import train
    from kipoi_genome.utils.atomic import atomic_output

    strategy = strategy or tf.distribute.get_strategy()
    train_config = pretrain_train_config(config, strategy.num_replicas_in_sync)
    task = build_logo_mlm_task(train_config)
    result = train(train_config, strategy=strategy, task=task)
    output = train_config.output_dir
    heldout = {}
    for name, stream in task.metadata["eval_streams"].items():
        evaluation = result.evaluation[name]
        heldout[name] = {
            "accuracy": evaluation["kmer_accuracy"],
            "accuracy_full_vocabulary": evaluation["masked_accuracy"],
            "perplexity": math.exp(min(evaluation["loss"], 50.0)),
            "num_masked": stream["num_masked"],
            "region": stream["region"],
        }
    if list(heldout) == ["heldout"]:
        heldout = heldout["heldout"]
    backbone_config = result.model.backbone.get_config()
    backbone_config.pop("dtype", None)  # float32 weights load into a float32 model by default
    float32_model = LogoMaskedLM(LogoBackbone.from_config(backbone_config))
    float32_model.set_weights(result.model.get_weights())
    with atomic_output(os.path.join(output, "masked_lm.weights.h5"), suffix=".weights.h5") as path:
        float32_model.save_weights(path)
    with atomic_output(os.path.join(output, "masked_lm.keras"), suffix=".keras") as path:
        float32_model.save(path)
    summary = {"step": result.step, "train": {"loss": result.last_loss}, "heldout": heldout}
    for name, value in (("model_config.json", backbone_config), ("config.json", dataclasses.asdict(config)),
                        ("result.json", summary)):
        with atomic_output(os.path.join(output, name), "w", suffix=".json") as handle:
            json.dump(value, handle, indent=2)
    _write_log_csv(output)
    return summary


def _write_log_csv(output):
    """`log.csv` from `train_log.jsonl`: one row per logged step, held-out metrics on evaluated steps."""
    import csv

    from kipoi_genome.utils.atomic import atomic_output

    rows, evaluations, streams = {}, {}, []
    with open(os.path.join(output, "train_log.jsonl")) as handle:
        for line in handle:
            record = json.loads(line)
            if "loss" in record and "step" in record:
                rows[record["step"]] = record
            elif record.get("event") == "evaluation":
                results = {name: value for name, value in record.get("results", {}).items() if name.startswith("heldout")}
                evaluations.setdefault(record["step"], {}).update(results)
                streams += [name for name in results if name not in streams]
    with atomic_output(os.path.join(output, "log.csv"), "w", suffix=".csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", "learning_rate", "grad_norm",
                         *[f"{name}_{column}" for name in streams for column in ("accuracy", "perplexity")]])
        for step in sorted(rows):
            row = [step, rows[step]["loss"], rows[step]["learning_rate"], rows[step]["grad_norm"]]
            for name in streams:
                heldout = evaluations.get(step, {}).get(name)
                row += ["", ""] if heldout is None else [
                    heldout["kmer_accuracy"], f"{math.exp(min(heldout['loss'], 50.0)):.2f}"]
            writer.writerow(row)
