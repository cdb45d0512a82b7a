"""Model cards and `.tar.gz` packages for exported SavedModels."""

import os
import tarfile
import tempfile

from kipoi_genome.export.saved_model import input_spec, named_outputs
from kipoi_genome.models.enformer.enformer import Enformer

ENFORMER_CITATION = (
    "Avsec, Ž., Agarwal, V., Visentin, D. et al. Effective gene expression prediction from "
    "sequence by integrating long-range interactions. Nat Methods 18, 1196–1203 (2021). "
    "https://doi.org/10.1038/s41592-021-01252-x"
)


def _output_shapes(model):
    outputs = named_outputs(model)
    return {name: tuple(tensor.shape) for name, tensor in outputs.items()}


def _shape(shape):
    """`[B, 393,216, 4]`; a variable non-batch length reads `L`."""
    names = [("B" if i == 0 else "L") if d is None else f"{d:,}" for i, d in enumerate(shape)]
    return "[" + ", ".join(names) + "]"


def interface_section(model, input_length=None):
    """Markdown describing the exported inputs and outputs of `model`.

    Args:
        model: the Keras model being exported.
        input_length: int or None. Exported input length (as in
            `export_saved_model`).

    Returns:
        str, a `## Interface` section: input shape and dtype, crop, outputs
        with shapes, bin size and covered span (Enformer), parameter count.
    """
    spec = input_spec(model, input_length)
    lines = ["## Interface", ""]
    lines.append(
        f"- **Input** `inputs`: {spec.dtype.name} {_shape(spec.shape)}"
        + (
            ", one-hot DNA in ACGT order, N = all zeros."
            if spec.dtype.is_floating and spec.shape[-1] == 4
            else ", token ids (0 = padding)." if spec.dtype.is_integer else "."
        )
    )
    model_length = model.inputs[0].shape[1] if len(model.inputs[0].shape) > 1 else None
    if model_length is not None and spec.shape[1] is not None and spec.shape[1] != model_length:
        lines.append(
            f"- The central {model_length:,} positions are used "
            f"(offset {(spec.shape[1] - model_length) // 2:,}); the flanks are cropped."
        )
    for name, shape in _output_shapes(model).items():
        lines.append(f"- **Output** `{name}`: float32 {_shape(shape)}")
    if isinstance(model, Enformer):
        bin_size = 2 ** (model.num_conv_tower_blocks + 1)
        bins = model.target_length or model.sequence_length // bin_size
        lines.append(
            f"- **Bin size** {bin_size} bp: {bins:,} bins cover the central "
            f"{bins * bin_size:,} bp of the model window; softplus track values."
        )
    lines.append(f"- **Parameters**: {int(model.count_params()):,}.")
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import tensorflow_hub as hub",
        "model = hub.load(PATH).model            # keep a reference while you use it",
        "outputs = model.predict_on_batch(x)     # x: " + _shape(spec.shape),
        "",
        "import keras                            # Keras 3 pipelines",
        'layer = keras.layers.TFSMLayer(PATH, call_endpoint="serving_default")',
        "```",
        "",
        "Under tf_keras, `hub.KerasLayer(PATH)` returns the same outputs "
        "(`output_key=...` selects one output inside a `Sequential`).",
        "",
    ]
    return "\n".join(lines)


def render_model_card(model, input_length=None, card=None, citation=None, license=None):
    """A complete model card: `card` text (or a generated header) + interface.

    Args:
        model: the Keras model being exported.
        input_length: int or None. Exported input length.
        card: str or None. Hand-written Markdown (description, citation,
            licence); the generated interface section is appended to it.
        citation: str or None. Used in the generated header when `card` is
            None; defaults to the Enformer paper for Enformer models.
        license: str or None. Licence line of the generated header.

    Returns:
        str, Markdown.
    """
    if card is None:
        if citation is None and isinstance(model, Enformer):
            citation = ENFORMER_CITATION
        card = "\n".join(
            [
                f"# {model.name}",
                "",
                "A kipoi-genome Keras 3 model exported as a TF-Hub SavedModel.",
                "",
                f"- **Citation**: {citation or 'see the model source.'}",
                f"- **Licence**: {license or 'Apache-2.0 (code); see the weights source.'}",
                "",
            ]
        )
    return card.rstrip("\n") + "\n\n" + interface_section(model, input_length)


def write_tarball(directory, path):
    """Packs the contents of `directory` into `path` (`.tar.gz`), atomically.

    The archive holds the directory's contents at its root, as `hub.load`
    expects of a compressed handle (`tar -czf path -C directory .`).

    Args:
        directory: str. An exported SavedModel directory.
        path: str. Output file; must end in `.tar.gz`.

    Returns:
        The path.
    """
    path = os.fspath(path)
    if not path.endswith(".tar.gz"):
        raise ValueError(f"The package name must end in .tar.gz. Received: {path!r}")
    if not os.path.isfile(os.path.join(directory, "saved_model.pb")):
        raise ValueError(f"Not a SavedModel directory (no saved_model.pb). Received: {directory}")
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".tar.gz.tmp", dir=parent)
    os.close(handle)
    try:
        with tarfile.open(tmp, "w:gz") as archive:
            for name in sorted(os.listdir(directory)):
                archive.add(os.path.join(directory, name), arcname=name)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
