"""Which models each command runs, checked in one place right after loading.

Every command that takes `--model` calls `require_model` on what it loaded
(or, where Beam workers load it, on `inspect_model`, which reads the preset
registry or the `.keras` file's `config.json` without building the model).
A model of another kind ends the command with one line (exit code 2,
docs/errors.md) naming the file or preset, the class found with its input
signature, and what the command accepts:

    kipoi-genome interpret: error: seq.keras: Sequential, input [B, 100, 4] float32; interpret runs
    Enformer (presets enformer, enformer_human, enformer_tiny, or a .keras file of one)

A kind is a zoo class family, or `ONE_HOT`: any Keras model with one
one-hot input `[B, L, 4]` of fixed `L`. Such a model is accepted only where
the command needs no more than `predict` on one-hot windows, and `predict`
then reads BED regions of exactly `L` bp (`require_region_widths`): zoo
models are centred on each region; other models are not resized silently.
"""

import dataclasses
import json
import os
import zipfile

from kipoi_genome.data.errors import InputFileError

ENFORMER = "enformer"
LOGO_CLASSIFIER = "logo_classifier"
LOGO_MASKED_LM = "logo_masked_lm"
LOGO_PRIORITIZER = "logo_prioritizer"
LOGO_BACKBONE = "logo_backbone"
LOGO_ENHANCER_PROMOTER = "logo_enhancer_promoter"
ONE_HOT = "one_hot"

# Kind -> (zoo class names, most specific first; description). Order matters:
# a class is of the first kind one of whose classes it subclasses.
_ZOO_KINDS = {
    ENFORMER: (("Enformer",), "Enformer"),
    LOGO_PRIORITIZER: (("LogoVariantPrioritizer",), "a LOGO variant prioritizer"),
    LOGO_MASKED_LM: (("LogoMaskedLM",), "a LOGO masked LM"),
    LOGO_ENHANCER_PROMOTER: (("LogoEnhancerPromoter",), "a LOGO enhancer-promoter model"),
    LOGO_CLASSIFIER: (
        ("LogoPromoterClassifier", "LogoChromatin", "LogoSequenceClassifier"),
        "a LOGO sequence classifier",
    ),
    LOGO_BACKBONE: (("LogoBackbone",), "a LOGO backbone"),
}
_ONE_HOT_TEXT = "a Keras model with one one-hot input [B, L, 4] of fixed length L"

# What each command runs. Keys are the command names of `kipoi-genome`, with
# the flag that narrows them where one does.
ACCEPTS = {
    "predict": (ENFORMER, LOGO_CLASSIFIER, ONE_HOT),
    "predict --sequences": (ENFORMER, LOGO_CLASSIFIER, ONE_HOT),
    "predict --output-embeddings": (ENFORMER,),
    "predict --format bigwig": (ENFORMER,),
    "predict --tile-genome": (ENFORMER,),
    "predict-genes": (ENFORMER,),
    "score-variants": (ENFORMER, LOGO_MASKED_LM, LOGO_PRIORITIZER, ONE_HOT),
    "score-variants --genes": (ENFORMER,),
    "interpret": (ENFORMER,),
    "plot": (ENFORMER,),
    "export-hub": (ENFORMER, LOGO_CLASSIFIER, ONE_HOT),
    "export-kipoi": (ENFORMER, ONE_HOT),
    "finetune": (ENFORMER, LOGO_MASKED_LM, LOGO_BACKBONE, LOGO_CLASSIFIER),
    "pretrain logo-evaluate": (LOGO_MASKED_LM,),
    "promoters evaluate": (LOGO_CLASSIFIER,),
}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a command needs to know about a model to decide whether it runs it.

    Attributes:
        source: str. The preset name or `.keras` path the user gave.
        class_name: str. The model's class, e.g. `"Enformer"`, `"Sequential"`.
        kind: str or None. One of the kinds above; None for anything else.
        inputs: tuple of `(shape, dtype)` per model input, shapes with None
            for the batch and any variable length; empty when unknown.
    """

    source: str
    class_name: str
    kind: object
    inputs: tuple = ()

    @property
    def input_length(self):
        """`L` of a one-hot `[B, L, 4]` input, else None."""
        return self.inputs[0][0][1] if self.kind == ONE_HOT else None

    def describe(self):
        """``Sequential, input [B, 100, 4] float32`` (the class and its inputs)."""
        if not self.inputs:
            return self.class_name
        shapes = ", ".join(f"{_shape_text(shape)} {dtype}" for shape, dtype in self.inputs)
        return f"{self.class_name}, input{'s' if len(self.inputs) > 1 else ''} {shapes}"


def _shape_text(shape):
    return "[" + ", ".join("B" if i == 0 and d is None else "L" if d is None else str(d)
                           for i, d in enumerate(shape)) + "]"


def _zoo_kind(cls):
    from kipoi_genome import models

    for kind, (names, _) in _ZOO_KINDS.items():
        if any(issubclass(cls, getattr(models, name)) for name in names):
            return kind
    return None


def _signature_kind(inputs):
    if len(inputs) != 1:
        return None
    shape, dtype = inputs[0]
    fixed = len(shape) == 3 and isinstance(shape[1], int) and shape[1] > 0 and shape[2] == 4
    return ONE_HOT if fixed and str(dtype).startswith(("float", "bfloat")) else None


def describe_model(model, source):
    """The `ModelInfo` of a loaded model.

    Args:
        model: the object a loader returned (any Keras model, or anything).
        source: str. The preset name or `.keras` path it came from.
    """
    kind = _zoo_kind(type(model))
    try:
        inputs = tuple((tuple(t.shape), str(t.dtype)) for t in model.inputs)
    except (AttributeError, TypeError, ValueError):
        inputs = ()
    if kind is None:
        kind = _signature_kind(inputs)
    return ModelInfo(os.fspath(source), type(model).__name__, kind, inputs)


def _config_inputs(config):
    """`(shape, dtype)` of each InputLayer of a Functional/Sequential config."""
    layers = (config.get("config") or {}).get("layers") or []
    inputs = tuple(
        (tuple(layer["config"]["batch_shape"]), str(layer["config"].get("dtype", "float32")))
        for layer in layers
        if layer.get("class_name") == "InputLayer" and "batch_shape" in layer.get("config", {})
    )
    if not inputs and config.get("build_config", {}).get("input_shape"):  # a Sequential without an Input
        inputs = ((tuple(config["build_config"]["input_shape"]), "float32"),)
    return inputs


def inspect_model(name_or_path):
    """The `ModelInfo` of a preset or `.keras` file, without building the model.

    For commands whose Beam workers load the model: the class comes from the
    preset registry or the file's `config.json`, the inputs of a non-zoo
    model from its InputLayer configs.

    Raises:
        FileNotFoundError: a `.keras` path that does not exist.
        InputFileError: a file that is not a readable `.keras` archive.
        ValueError: an unknown preset name.
    """
    import keras

    import kipoi_genome.models  # noqa: F401  (registers the zoo classes)
    from kipoi_genome.models import presets

    source = os.fspath(name_or_path)
    if not source.endswith(".keras"):
        preset = presets.get_preset(source)
        cls = keras.saving.get_registered_object(f"kipoi_genome>{preset.class_name}")
        return ModelInfo(source, preset.class_name, _zoo_kind(cls) if cls else None)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: model file not found")
    try:
        with zipfile.ZipFile(source) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError) as error:
        raise InputFileError(source, None, f"not a readable .keras file ({type(error).__name__})") from None
    class_name = str(config.get("class_name"))
    cls = keras.saving.get_registered_object(config.get("registered_name") or "")
    kind = _zoo_kind(cls) if isinstance(cls, type) else None
    inputs = () if kind else _config_inputs(config)
    return ModelInfo(source, class_name, kind or _signature_kind(inputs), inputs)


def accepted_text(kinds):
    """``Enformer (presets enformer, ...) or a Keras model with ...``: what `kinds` accept."""
    from kipoi_genome.models import presets

    parts = []
    for kind in kinds:
        if kind == ONE_HOT:
            parts.append(_ONE_HOT_TEXT)
            continue
        names, text = _ZOO_KINDS[kind]
        preset_names = sorted(p for name in names for p in presets.list_presets(name))
        listed = f"presets {', '.join(preset_names)}, or" if preset_names else "as"
        parts.append(f"{text} ({listed} a .keras file of one)")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def require_model(model, command, source=None, accepts=None):
    """Checks that `command` can run `model`; returns its `ModelInfo`.

    Args:
        model: a loaded model, or a `ModelInfo` (from `inspect_model`).
        command: str. A key of `ACCEPTS`, e.g. `"interpret"` or
            `"predict --format bigwig"`.
        source: str. The preset name or `.keras` path (not needed with a
            `ModelInfo`).
        accepts: tuple of kinds, default `ACCEPTS[command]`.

    Returns:
        ModelInfo.

    Raises:
        ValueError: one line, ``SOURCE: CLASS, input SHAPE DTYPE; COMMAND
            runs KINDS``, for a model of another kind.
    """
    info = model if isinstance(model, ModelInfo) else describe_model(model, source)
    kinds = ACCEPTS[command] if accepts is None else tuple(accepts)
    if info.kind in kinds:
        return info
    raise ValueError(f"{info.source}: {info.describe()}; {command} runs {accepted_text(kinds)}")


def commands_for(info):
    """The `ACCEPTS` keys (commands, with their narrowing flags) that run a model.

    Args:
        info: ModelInfo.

    Returns:
        list of str, e.g. `["predict", "predict --sequences", "export-hub"]`.
    """
    return [command for command, kinds in ACCEPTS.items() if info.kind in kinds]


def require_region_widths(info, intervals):
    """For a non-zoo one-hot model: every region must be its input length.

    Zoo models are centred on each region (their documented window); any
    other model would be resized silently, so a region of another width
    stops the command here, naming the file, line and region.

    Args:
        info: ModelInfo of the model.
        intervals: iterable of `kipoi_genome.data.Interval` (`source`, `line`).

    Raises:
        InputFileError: for the first region whose width is not the model's
            input length.
    """
    length = info.input_length
    if length is None:
        return
    for interval in intervals:
        if interval.width != length:
            raise InputFileError(
                interval.source, interval.line,
                f"region of {interval.width} bp; {info.source} ({info.class_name}) reads exactly {length} bp "
                "and predict resizes regions only for zoo models",
                f"{interval.chrom}:{interval.start}-{interval.end}",
            )
