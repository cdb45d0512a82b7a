"""Fine-tuning a trained model on the user's data: LOGO classifiers and Enformer heads.

- LOGO (`logo_classifier_from`, `finetune_logo`): a `LogoSequenceClassifier`
  started from a pre-trained masked LM, backbone or classifier, trained on a
  table of labelled sequences (`kipoi_genome.data.sequence_tables`) of any
  length with a random reading frame and strand per sequence and epoch, and
  the epoch chosen on validation AUROC (`finetune_sequence_classifier`).
- Enformer (`enformer_finetune_model`, `finetune_enformer`): the trunk of a
  trained Enformer with heads for the data's tracks (new heads where the
  track count differs, the trained ones where it matches), trained under the
  generic trainer (any strategy, checkpoints and resume) with every
  BatchNorm frozen in inference mode.

`train="heads"` trains the output layer(s) only; `train="all"` trains the
whole model except the BatchNorm layers, whose moving statistics (and scale
and offset: Keras freezes a non-trainable BatchNorm layer entirely) keep
their trained values. Batch statistics of small fine-tuning batches are what
make a fine-tuned Enformer collapse (deepmind-research #297).
"""

import dataclasses
import functools
import time
import warnings

import keras
import numpy as np

from kipoi_genome.training.metrics import binary_metrics

__all__ = [
    "TRAIN_MODES",
    "FinetuneConfig",
    "finetune_sequence_classifier",
    "freeze_batch_norm",
    "uncompiled_copy",
    "logo_classifier_from",
    "finetune_logo",
    "natural_head_targets",
    "masked_head_loss",
    "enformer_finetune_model",
    "finetune_enformer",
]

TRAIN_MODES = ("heads", "all")


def uncompiled_copy(model):
    """`model` rebuilt from its config with its weights, without optimizer or compile state.

    A compiled model saves its optimizer too; loading such a file into a model
    compiled differently (another set of trainable variables) warns, and the
    state is of no use for predictions.
    """
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _check_train(train):
    if train not in TRAIN_MODES:
        raise ValueError(f"`train` must be one of {TRAIN_MODES}. Received: train={train!r}")


def _sublayers(model):
    return model._flatten_layers(include_self=False, recursive=True)


def freeze_batch_norm(model):
    """Sets every BatchNormalization layer of `model` non-trainable.

    A non-trainable Keras BatchNormalization normalises with its moving
    statistics even when called with `training=True` and never updates them.

    Returns:
        int. The number of BatchNormalization layers frozen.
    """
    count = 0
    for layer in _sublayers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


# ----------------------------------------------------------------------------
# LOGO
# ----------------------------------------------------------------------------


def logo_classifier_from(model, from_scratch=False, pooling="mean", dropout=0.25, natural_head=False):
    """A one-output `LogoSequenceClassifier` to fine-tune, started from `model`.

    Args:
        model: a `LogoMaskedLM` or `LogoBackbone` (a new sigmoid head on its
            backbone), or a one-output `LogoSequenceClassifier` (trained
            further as it is).
        from_scratch: bool. The same architecture with freshly initialised
            weights (the baseline that measures what pre-training brings).
        pooling: `"mean"` or `"first"`, for a new head.
        dropout: float, for a new head.
        natural_head: bool. Give the classifier the natural-vs-shuffled
            head (`LogoSequenceClassifier(natural_head=True)`). A trained
            one-output classifier without it is copied with the head added:
            its backbone and class unit keep their weights, the natural unit
            starts fresh.

    Returns:
        `LogoSequenceClassifier` `[B, T]` token ids -> `[B, 1]`.
    """
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, LogoSequenceClassifier

    if isinstance(model, LogoSequenceClassifier):
        if model.num_outputs != 1:
            raise ValueError(
                "Fine-tuning on a labelled table needs a one-output classifier. "
                f"Received: {type(model).__name__} with num_outputs={model.num_outputs}"
            )
        if model.natural_head and not natural_head:
            raise ValueError(
                "natural_head=False asked, but the classifier given has a natural head; start from a masked LM "
                f"or backbone instead. Received: {type(model).__name__} with natural_head=True"
            )
        if natural_head and not model.natural_head:
            return _with_natural_head(model, from_scratch)
        if from_scratch:
            return type(model).from_config(model.get_config())
        return model
    if isinstance(model, LogoMaskedLM):
        backbone = model.backbone
    elif isinstance(model, LogoBackbone):
        backbone = model
    else:
        raise ValueError(
            "A LOGO fine-tuning start must be a LogoMaskedLM, LogoBackbone or LogoSequenceClassifier. "
            f"Received: {type(model).__name__}"
        )
    if from_scratch:
        backbone = LogoBackbone.from_config(backbone.get_config())
    return LogoSequenceClassifier(backbone, num_outputs=1, pooling=pooling, dropout=dropout, natural_head=natural_head)


def _with_natural_head(model, from_scratch):
    """A copy of a one-output classifier with a natural head added.

    The backbone and the class unit keep `model`'s trained weights (fresh
    ones with `from_scratch`); the natural unit starts freshly initialised.
    """
    config = {**model.get_config(), "natural_head": True}
    copy = type(model).from_config(config)
    if from_scratch:
        return copy
    copy.backbone.set_weights(model.backbone.get_weights())
    kernel, bias = copy.output_dense.get_weights()
    old_kernel, old_bias = model.output_dense.get_weights()
    kernel[:, :1], bias[:1] = old_kernel, old_bias
    copy.output_dense.set_weights([kernel, bias])
    return copy


def natural_head_targets(table, source="<table>"):
    """Per-head targets and weights for a classifier with the natural head.

    Rows whose `negative_kind` is `"shuffled"` (label 0) are
    composition-preserving shuffles of the positives: natural-head target 0,
    no class-head target. The positives are their natural counterparts:
    class and natural target 1. Every other row (a genomic negative) has
    class target 0 and no natural-head target: genomic windows are natural
    too, but unlike promoters rarely CpG islands, so a head that learned
    "natural" from them would mark CpG-island promoters as shuffle-like.

    Args:
        table: DataFrame with `label` and `negative_kind` (as written by
            `kipoi-genome promoters build --negatives ...,shuffled`).
        source: str. The table's file, for error messages.

    Returns:
        float32 array `[N, 4]`: class target, natural target, class weight,
        natural weight.

    Raises:
        InputFileError: no `negative_kind` column, a shuffled row labelled 1,
            or no shuffled row in the train split.
    """
    from kipoi_genome.data import InputFileError
    from kipoi_genome.data.promoters import SHUFFLED_KIND

    if "negative_kind" not in table.columns:
        raise InputFileError(
            source, 1, "the natural head needs a 'negative_kind' column marking shuffled negatives "
            "(kipoi-genome promoters build --negatives gc,gc_cpg,shuffled writes one)",
            ",".join(map(str, table.columns)),
        )
    shuffled = (table["negative_kind"] == SHUFFLED_KIND).to_numpy()
    labels = table["label"].to_numpy()
    bad = np.flatnonzero(shuffled & (labels != 0))
    if len(bad):
        row = int(bad[0])
        raise InputFileError(source, row + 2, "a shuffled row must have label 0", labels[row])
    if "split" in table.columns and not (shuffled & (table["split"] == "train").to_numpy()).any():
        raise InputFileError(source, None, "the natural head needs shuffled rows in the train split (none found)")
    targets = np.zeros((len(table), 4), np.float32)
    targets[:, 0] = labels  # 0 on the shuffled rows (checked above), where its weight is 0 anyway
    targets[:, 1] = labels == 1
    targets[:, 2] = ~shuffled
    targets[:, 3] = shuffled | (labels == 1)
    return targets


def masked_head_loss(y_true, logits):
    """Binary cross-entropy of each head's logit, weighted per head.

    Args:
        y_true: `[B, 2C]`: C targets, then C weights (0 = no target).
        logits: `[B, C]`.

    Returns:
        `[B]`: the weighted sum over heads.
    """
    from keras import ops

    heads = ops.shape(logits)[-1]
    targets, weights = y_true[:, :heads], y_true[:, heads:]
    logits = ops.cast(logits, "float32")
    losses = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.sum(losses * weights, axis=-1)


def _check_lengths(model, table, source):
    from kipoi_genome.data import InputFileError

    k = model.tokenizer.k
    limit = model.backbone.max_sequence_length
    lengths = table["sequence"].str.len().to_numpy()
    short = np.flatnonzero(lengths < 2 * k - 1)
    if len(short):
        row = int(short[0])
        raise InputFileError(
            source, row + 2, f"sequence of {lengths[row]} bp is too short for {k}-mer tokens "
            f"(at least {2 * k - 1} bp)", table["sequence"].iloc[row],
        )
    # Frame 0 has the most tokens: floor(length / k).
    long = np.flatnonzero(lengths // k > limit)
    if len(long):
        row = int(long[0])
        raise InputFileError(
            source, row + 2, f"sequence of {lengths[row]} bp gives {lengths[row] // k} tokens per frame, "
            f"more than the model's {limit} positions (at most {limit * k + k - 1} bp)",
            table["sequence"].iloc[row][:40],
        )


def finetune_logo(model, table, epochs=6, train="all", seed=0, batch_size=32, learning_rate=5e-4,
                  valid_fraction=0.1, source="<table>", log=print):
    """Fine-tunes a one-output LOGO classifier on a labelled sequence table.

    Args:
        model: `LogoSequenceClassifier` (see `logo_classifier_from`); trained
            in place and left holding the weights of the best validation
            epoch, its `sequence_length` set to the training sequences'
            length (None when they differ).
        table: DataFrame from `read_sequence_table(path, labels=True)`:
            `sequence`, `label` (0/1) and optionally `split`. Without
            `split`, a seeded stratified validation split of
            `valid_fraction` is made (no test split).
        epochs: int. Passes over the training split.
        train: `"heads"` (the backbone frozen) or `"all"`.
        seed: int. Initialisation, split, shuffling, frame/strand choice.
        batch_size: int.
        learning_rate: float. Peak AdamW learning rate (warm-up, cosine).
        valid_fraction: float. For the split made when there is none.
        source: str. The table's file, for error messages.
        log: callable taking one progress line, or None.

    Returns:
        dict: `history`, `best_epoch`, `valid` and (with a test split) `test`
        metrics (AUROC, AUPRC, F1, accuracy), `split_counts`.
    """
    from kipoi_genome.data import InputFileError
    from kipoi_genome.data.sequence_tables import stratified_split

    _check_train(train)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")
    table = table.copy()
    if "split" not in table.columns:
        table["split"] = stratified_split(table["label"].to_numpy(), valid_fraction, seed)
    counts = {split: int((table["split"] == split).sum()) for split in ("train", "valid", "test")}
    for split in ("train", "valid"):
        labels = set(table.loc[table["split"] == split, "label"])
        if labels != {0, 1}:
            raise InputFileError(
                source, None, f"the {split} split needs both labels 0 and 1 "
                f"({counts[split]} rows, labels {sorted(labels)})",
            )
    _check_lengths(model, table, source)
    if model.natural_head:
        table["head_targets"] = list(natural_head_targets(table, source))
    # Recorded for predict_sequences' length_policy: the training length, or None when lengths vary.
    lengths = set(table.loc[table["split"] == "train", "sequence"].str.len())
    model.sequence_length = int(lengths.pop()) if len(lengths) == 1 else None
    model.backbone.trainable = train == "all"
    config = FinetuneConfig(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=min(50, max(1, counts["train"] // batch_size)), seed=seed,
        pooling=model.pooling, dropout=model.dropout,
    )
    with warnings.catch_warnings():
        # Keras warns that fit's shuffle does not apply to a tf.data input; the dataset shuffles itself.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
        result = finetune_sequence_classifier(model, table, config, log=log or (lambda line: None))
    model.backbone.trainable = True
    result.pop("test_probabilities", None)
    if result.get("test") is None:
        result.pop("test", None)
    result["split_counts"] = counts
    result["config"] = {**dataclasses.asdict(config), "train": train}
    return result


@dataclasses.dataclass
class FinetuneConfig:
    """Settings of `finetune_sequence_classifier`."""

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
    labels = np.asarray(labels, np.float32)
    labels = labels[:, None] if labels.ndim == 1 else labels
    dataset = tf.data.Dataset.from_tensor_slices((views, labels)).shuffle(len(views), seed=seed)

    def pick(view, label):
        index = tf.random.uniform((), 0, tf.shape(view)[0], dtype=tf.int32, seed=seed)
        return view[index], label

    return dataset.map(pick).batch(batch_size).prefetch(2)


def finetune_sequence_classifier(model, table, config, log=print):
    """Fine-tunes `model` on the train split, selecting the epoch on valid AUROC.

    Args:
        model: a one-output `LogoSequenceClassifier` (pre-trained backbone or not).
        table: DataFrame with `sequence`, `label` and `split` (e.g.
            `data.promoters.build_promoter_dataset`).
        config: `FinetuneConfig`.
        log: callable for progress lines.

    Returns:
        dict with `history` (per-epoch loss, valid metrics, seconds),
        `best_epoch`, `valid`, `test` metrics; `model` holds the best weights.
    """
    keras.utils.set_random_seed(config.seed)
    train = table[table["split"] == "train"]
    valid = table[table["split"] == "valid"]
    test = table[table["split"] == "test"]
    natural_head = getattr(model, "natural_head", False)
    # With the natural head the two logits are trained, each on the rows it has a target for.
    targets = np.stack(train["head_targets"].to_list()) if natural_head else train["label"].to_numpy()
    dataset = _training_dataset(list(train["sequence"]), targets, model.tokenizer, config.batch_size, config.seed)
    steps = config.epochs * int(np.ceil(len(train) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - config.warmup_steps), warmup_target=config.learning_rate,
        warmup_steps=config.warmup_steps, alpha=0.05,
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, global_clipnorm=1.0)
    if natural_head:
        trained = keras.Model(model.input, model.output_dense.output)  # [B, 2] logits, weights shared
        trained.compile(optimizer=optimizer, loss=masked_head_loss)
    else:
        trained = model
        model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy())
    history, best, best_weights = [], None, None
    started = time.time()
    for epoch in range(1, config.epochs + 1):
        fit = trained.fit(dataset, epochs=1, verbose=0)
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
# Enformer
# ----------------------------------------------------------------------------


def enformer_finetune_model(base, heads, sequence_length=None, target_length=None, train="heads"):
    """An Enformer with `base`'s trunk and heads for new tracks, frozen for fine-tuning.

    The new model has `base`'s architecture at `sequence_length` /
    `target_length` (weights do not depend on them; when the length changes
    and `base` sets no `positional_basis_length`, it is fixed to `base`'s
    token count so the relative positions keep their trained meaning). Its
    heads are `base`'s plus `heads`: a head of `heads` replaces `base`'s
    head of that name when the track counts differ (new weights), else it
    starts from the trained one. Every other weight is copied from `base`.

    Args:
        base: a trained `Enformer`.
        heads: dict head name -> number of tracks of the data.
        sequence_length, target_length: int or None (`base`'s).
        train: `"heads"`: only the layers of `heads` are trainable;
            `"all"`: everything but the BatchNorm layers (see module doc).

    Returns:
        `Enformer` `[B, sequence_length, 4]` -> `{head: [B, target_length, n]}`.
    """
    from kipoi_genome.models import Enformer

    _check_train(train)
    if not isinstance(base, Enformer):
        raise ValueError(f"Enformer fine-tuning starts from an Enformer. Received: {type(base).__name__}")
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"`heads` must map head names to track counts. Received: heads={heads!r}")
    config = base.get_config()
    if sequence_length is not None and sequence_length != base.sequence_length:
        if config["positional_basis_length"] is None:
            config["positional_basis_length"] = base.sequence_length // base.bin_size
        config["sequence_length"] = sequence_length
    if target_length is not None:
        config["target_length"] = target_length
    config["heads"] = {**dict(base.heads), **{name: int(size) for name, size in heads.items()}}
    model = Enformer.from_config(config)
    for layer in base.layers:
        if not layer.weights:
            continue
        if layer.name.startswith("head_"):
            name = layer.name[len("head_"):]
            if config["heads"][name] != base.heads[name]:
                continue  # replaced: the new head keeps its fresh initialisation
        model.get_layer(layer.name).set_weights(layer.get_weights())
    head_layers = {f"head_{name}" for name in heads}
    if train == "heads":
        for layer in model.layers:
            layer.trainable = layer.name in head_layers
    else:
        freeze_batch_norm(model)
    return model


def finetune_enformer(base, config, train="heads", strategy=None):
    """Fine-tunes `base` on the `tracks` data section of `config` under the trainer.

    Args:
        base: a trained `Enformer`.
        config: `TrainConfig` whose `data` (and `evaluation`) are a `tracks`
            task's (docs/training.md); `model` is ignored (the architecture
            is `base`'s). Checkpoints and logs go to `config.output_dir`;
            running again resumes from its last checkpoint.
        train: `"heads"` or `"all"`.
        strategy: optional `tf.distribute.Strategy` (default: from
            `config.distribute`).

    Returns:
        `trainer.TrainResult`; `.model` is the fine-tuned Enformer.
    """
    from kipoi_genome.training.trainer import train as run_training
    from kipoi_genome.training.tracks import build_tracks_task

    _check_train(train)
    task = build_tracks_task(config)
    heads = {name: len(tracks) for name, tracks in task.metadata["tracks"].items()}
    layout = task.metadata
    if layout["bin_size"] != base.bin_size:
        raise ValueError(
            f"The data's bin size must equal the model's, {base.bin_size} bp. Received: bin_size={layout['bin_size']}"
        )
    build = functools.partial(
        enformer_finetune_model, base, heads, layout["sequence_length"], layout["target_length"], train
    )
    task = dataclasses.replace(task, build_model=build, metadata={**task.metadata, "finetune": train})
    return run_training(config, strategy=strategy, task=task)
