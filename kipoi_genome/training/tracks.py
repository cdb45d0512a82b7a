"""Task `tracks`: sequence -> binned tracks with Poisson loss (Enformer-style).

Config sections (see docs/training.md for complete examples):

```yaml
task: tracks
model:
  architecture: enformer      # enformer | dilated_conv | conv_attention
  channels: 48                # any other key is passed to the model builder
  num_transformer_layers: 1   # (heads, sequence_length, target_length come from data)
data:
  source: synthetic           # synthetic | genome | longrange | tfrecords | bigwig
  sequence_length: 2048
  target_length: 8            # central bins predicted
  bin_size: 128
  augment: {max_shift: 3, reverse_complement_prob: 0.5}   # training only; null = off
  ...                         # source-specific keys, see below
evaluation:
  tta: {shifts: [-1, 0, 1], reverse_complement: true}     # null = plain predictions
  num_batches: 4              # evaluation set size, in global batches (0: no evaluation)
```

Sources:
- `synthetic`: random DNA; `organisms: {human: [gc, cpg], mouse: [gc]}` maps
  each head to tracks from `synthetic.SYNTHETIC_TRACKS`; several organisms
  alternate batch by batch, like Enformer's human/mouse training.
- `genome`: real DNA and annotation-derived tracks (`genome_data.py`).
- `longrange`: synthetic long-range task on real DNA (`longrange_data.py`).
- `tfrecords`: a Basenji/Enformer TFRecord folder (`data/tfrecord_streams.py`).
- `bigwig`: FASTA windows (a BED, or regions tiled) with per-bin targets
  from bigWig files, per split (`data/bigwig_tracks.py`).

Evaluation reports the Poisson loss and per-track Pearson R (over examples
and bins, exact across replicas) per organism.
"""

import functools

from kipoi_genome.interpret.augmentation import predict_averaged_tensor
from kipoi_genome.training import losses
from kipoi_genome.training.baselines import build_conv_attention_model, build_dilated_conv_model
from kipoi_genome.training.metrics import PearsonR
from kipoi_genome.training.synthetic import synthetic_tracks_dataset
from kipoi_genome.training.task import DataStream, Task, register_task

__all__ = ["build_tracks_task", "build_track_model", "SOURCES", "ARCHITECTURES"]

ARCHITECTURES = ("enformer", "dilated_conv", "conv_attention")
SOURCES = ("synthetic", "genome", "longrange", "tfrecords", "bigwig")


def build_track_model(model_config, heads, sequence_length, target_length, bin_size=128):
    """Builds the model named by `model_config["architecture"]`.

    Args:
        model_config: dict. `architecture` plus keyword arguments of the
            builder (`kipoi_genome.models.Enformer`,
            `baselines.build_dilated_conv_model` or
            `baselines.build_conv_attention_model`).
        heads: dict head -> number of tracks.
        sequence_length: int. Input length in bp.
        target_length: int. Output bins.
        bin_size: int. Output resolution (Enformer: 2 ** (num_conv_tower_blocks
            + 1), i.e. 128 bp with the default 6 blocks).

    Returns:
        A `keras.Model` `(B, L, 4) -> {head: (B, T, n)}`.
    """
    kwargs = dict(model_config)
    architecture = kwargs.pop("architecture", "enformer")
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"`model.architecture` must be one of {ARCHITECTURES}. Received: architecture={architecture!r}"
        )
    common = dict(heads=heads, sequence_length=sequence_length, target_length=target_length)
    if architecture == "dilated_conv":
        return build_dilated_conv_model(bin_size=bin_size, **common, **kwargs)
    if architecture == "conv_attention":
        return build_conv_attention_model(bin_size=bin_size, **common, **kwargs)
    blocks = kwargs.get("num_conv_tower_blocks", 6)
    if bin_size != 2 ** (blocks + 1):
        raise ValueError(
            "Enformer's bins are 2 ** (num_conv_tower_blocks + 1) bp (128 with the default 6 blocks). "
            f"Received: bin_size={bin_size}, num_conv_tower_blocks={blocks}"
        )
    from kipoi_genome.models import Enformer

    return Enformer(**common, **kwargs)


def _synthetic_streams(data, seed_offset_eval=10_000):
    organisms = data.get("organisms", {"human": ["gc", "cpg"]})
    if not isinstance(organisms, dict) or not organisms:
        raise ValueError(f"`data.organisms` must map head -> tracks. Received: organisms={organisms!r}")
    common = dict(
        sequence_length=data["sequence_length"],
        bin_size=data.get("bin_size", 128),
        target_length=data.get("target_length"),
    )
    train, evaluation, heads, names = {}, {}, {}, {}
    for index, (organism, tracks) in enumerate(organisms.items()):
        heads[organism] = len(tracks)
        names[organism] = list(tracks)
        train[organism] = DataStream(
            functools.partial(
                synthetic_tracks_dataset,
                tracks=tracks,
                stream_id=index,
                augment=data.get("augment"),
                **common,
            ),
            output=organism,
        )
        evaluation[organism] = DataStream(
            functools.partial(
                synthetic_tracks_dataset,
                tracks=tracks,
                stream_id=seed_offset_eval + index,
                num_batches=data.get("eval_batches", 2),
                **common,
            ),
            output=organism,
        )
    return train, evaluation, heads, names


@register_task("tracks")
def build_tracks_task(config):
    """Task builder for `task: tracks` (see module docstring).

    Args:
        config: `TrainConfig`.

    Returns:
        `task.Task`.
    """
    data = dict(config.data)
    source = data.pop("source", "synthetic")
    if source not in SOURCES:
        raise ValueError(f"`data.source` must be one of {SOURCES}. Received: source={source!r}")
    if source == "tfrecords":  # lengths and bin size come from the folder's statistics.json
        from kipoi_genome.data import tfrecord_streams

        data["sequence_length"], data["target_length"], data["bin_size"], _ = tfrecord_streams.tfrecord_layout(data)
    for key in ("sequence_length",):
        if key not in data:
            raise ValueError(f"`data.{key}` is required for task tracks. Received data keys: {sorted(data)}")
    bin_size = data.get("bin_size", 128)
    target_length = data.get("target_length") or data["sequence_length"] // bin_size
    data["target_length"] = target_length
    evaluation = config.evaluation or {}
    if "num_batches" in evaluation:
        data["eval_batches"] = evaluation["num_batches"]
    if source == "synthetic":
        train, evals, heads, names = _synthetic_streams(data)
    elif source == "genome":
        from kipoi_genome.training import genome_data

        train, evals, heads, names = genome_data.build_streams(data)
    elif source in ("tfrecords", "bigwig"):
        if source == "bigwig":
            from kipoi_genome.data import bigwig_tracks as stream_source
        else:
            stream_source = tfrecord_streams
        organism, train_fn, eval_fn, track_names = stream_source.stream_functions(data)
        train = {organism: DataStream(train_fn, output=organism)}
        evals = {organism: DataStream(eval_fn, output=organism)} if eval_fn else {}
        heads, names = {organism: len(track_names)}, {organism: list(track_names)}
    else:
        from kipoi_genome.training import longrange_data

        train, evals, heads, names = longrange_data.build_streams(data)

    if evaluation.get("num_batches", 1) == 0:
        evals = {}  # evaluation switched off
    tta = evaluation.get("tta")
    predict_fn = None
    if tta:
        shifts = tuple(tta.get("shifts", (0,)))
        reverse = bool(tta.get("reverse_complement", True))
        predict_fn = functools.partial(_tta, shifts=shifts, reverse=reverse)

    return Task(
        build_model=functools.partial(
            build_track_model,
            config.model,
            heads,
            data["sequence_length"],
            target_length,
            bin_size,
        ),
        loss=losses.poisson_nll,
        train_streams=train,
        eval_streams=evals,
        eval_metrics=lambda: {"pearson_r": PearsonR()},
        predict_fn=predict_fn,
        metadata={
            "tracks": names,
            "source": source,
            "sequence_length": data["sequence_length"],
            "target_length": target_length,
            "bin_size": bin_size,
        },
    )


def _tta(model, one_hot, shifts, reverse):
    return predict_averaged_tensor(model, one_hot, shifts, reverse)
