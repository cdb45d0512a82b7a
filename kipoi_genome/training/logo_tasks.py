"""LOGO pre-training and fine-tuning as tasks of the generic trainer.

Both tasks run under `kipoi-genome train` with every strategy, reusing the
LOGO pieces of `kipoi_genome.models.logo`, `kipoi_genome.tokenizers` and
`training.logo_pretraining` (windows, dynamic masking, held-out masked set).

Task `logo_mlm` (masked-LM pre-training):

```yaml
task: logo_mlm
model: {embedding_dim: 32, hidden_dim: 64, ...}   # LogoBackbone arguments (vocabulary from k)
data:
  fasta: ../shared/data/reference/GRCh37_chr20.fa.gz
  contig: chr20
  train_region: chr20:0-53025520       # 0-based half-open, as logo_pretraining.parse_region
  eval_region: chr20:53025520-63025520
  k: 5
  window_length: 1004
  mask_rate: 0.15
  eval_windows: 256
```

Batches are `({"token_ids", "mask_positions"}, labels [B, P], weights [B, P])`;
the loss is cross-entropy at masked positions normalised by the number of
masked positions in the GLOBAL batch; evaluation reports masked-token
accuracy on the held-out masked set.

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

import functools

import numpy as np
import tensorflow as tf

from kipoi_genome.training import losses
from kipoi_genome.training.metrics import SparseAccuracy
from kipoi_genome.training.task import DataStream, Task, register_task

__all__ = ["build_logo_mlm_task", "build_logo_classifier_task", "BinaryAUROC"]


def _tokenizer(k):
    from kipoi_genome.tokenizers import KmerTokenizer

    return KmerTokenizer(k=int(k))


def _masked_lm(backbone_args, k, window_length):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM

    tokenizer = _tokenizer(k)
    args = {
        "vocabulary_size": tokenizer.vocabulary_size,
        "max_sequence_length": max(512, tokenizer.num_tokens(window_length)),
        **backbone_args,
    }
    return LogoMaskedLM(LogoBackbone(**args))


@functools.lru_cache(maxsize=2)
def _contig(fasta, contig):
    from kipoi_genome.training.logo_pretraining import read_contig

    return read_contig(fasta, contig)


def _mlm_train_dataset(global_batch_size, seed, start_batch, sequence, region, k, window_length, mask_rate):
    from kipoi_genome.training.logo_pretraining import RandomWindows, pretraining_dataset

    windows = RandomWindows(sequence, region[1], region[2], _tokenizer(k), window_length, seed=seed)
    # Same stream as an uninterrupted run.
    return pretraining_dataset(windows, global_batch_size, seed=seed, mask_rate=mask_rate, first_batch=start_batch)


def _mlm_eval_dataset(global_batch_size, seed, start_batch, sequence, region, k, window_length, mask_rate, num_windows):
    from kipoi_genome.training.logo_pretraining import heldout_masked_set

    del seed
    masked = heldout_masked_set(
        sequence, region[1], region[2], _tokenizer(k), num_windows=num_windows,
        window_length=window_length, mask_rate=mask_rate,
    )
    dataset = tf.data.Dataset.from_tensor_slices((masked.features, masked.labels, masked.weights))
    return dataset.batch(global_batch_size, drop_remainder=True).skip(start_batch)


@register_task("logo_mlm")
def build_logo_mlm_task(config):
    """Task builder for `task: logo_mlm` (see module docstring)."""
    from kipoi_genome.training.logo_pretraining import parse_region

    data = dict(config.data)
    known = {"fasta", "contig", "train_region", "eval_region", "k", "window_length", "mask_rate", "eval_windows"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"Unknown key(s) in `data` for task logo_mlm: {unknown}. Expected some of {sorted(known)}.")
    for key in ("fasta", "train_region", "eval_region"):
        if key not in data:
            raise ValueError(f"`data.{key}` is required for task logo_mlm. Received keys: {sorted(data)}")
    sequence, contig = _contig(data["fasta"], data.get("contig"))
    train_region, eval_region = parse_region(data["train_region"]), parse_region(data["eval_region"])
    if train_region[1] < eval_region[2] and eval_region[1] < train_region[2]:
        raise ValueError(
            f"`data.train_region` overlaps `data.eval_region`. Received: {data['train_region']}, {data['eval_region']}"
        )
    k = int(data.get("k", 5))
    window_length = int(data.get("window_length", 1004))
    mask_rate = float(data.get("mask_rate", 0.15))
    common = dict(sequence=sequence, k=k, window_length=window_length, mask_rate=mask_rate)
    return Task(
        build_model=functools.partial(_masked_lm, dict(config.model), k, window_length),
        loss=losses.masked_sparse_categorical_crossentropy,
        train_streams={"mlm": DataStream(functools.partial(_mlm_train_dataset, region=train_region, **common))},
        eval_streams={
            "heldout": DataStream(
                functools.partial(
                    _mlm_eval_dataset, region=eval_region, num_windows=int(data.get("eval_windows", 256)), **common
                )
            )
        },
        eval_metrics=lambda: {"masked_accuracy": SparseAccuracy()},
        metadata={"contig": contig, "k": k},
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
        labels, scores = pairs[:, 0] > 0.5, pairs[:, 1]
        positives, negatives = scores[labels], scores[~labels]
        if not len(positives) or not len(negatives):
            return float("nan")
        order = np.argsort(np.concatenate([positives, negatives]), kind="mergesort")
        ranks = np.empty(len(order))
        ranks[order] = np.arange(1, len(order) + 1)
        all_scores = np.concatenate([positives, negatives])
        for value in np.unique(all_scores):  # average ranks of ties
            tied = all_scores == value
            ranks[tied] = ranks[tied].mean()
        return float((ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
                     / (len(positives) * len(negatives)))


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
    import pandas as pd

    data = dict(config.data)
    known = {"table", "k"}
    unknown = sorted(set(data) - known)
    if unknown or "table" not in data:
        raise ValueError(f"`data` for task logo_classifier needs `table` (and optional `k`). Received keys: {sorted(data)}")
    k = int(data.get("k", 5))
    table = pd.read_csv(data["table"])
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

