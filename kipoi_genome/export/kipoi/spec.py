"""Renders Kipoi model directories (model.yaml + dataloader.yaml + shims + examples).

Pure YAML/file work: kipoi is not imported. The rendered directory passes
`kipoi test DIR --source dir` and names the classes of `kipoi.adapter` and
`kipoi.dataloaders` through two-line `model.py` / `dataloader.py` shims.
"""

import hashlib
import importlib.resources
import os
import shutil
import tempfile

import yaml

from kipoi_genome.export.model_card import ENFORMER_CITATION
from kipoi_genome.export.saved_model import (
    crop_start,
    default_input_length,
    input_spec,
    named_outputs,
    replace_directory,
)
from kipoi_genome.models.enformer.enformer import Enformer

EXAMPLE_CONTIG = "chr20_44100000_44103000"
_SOURCE_CONTIG = "chr20_44080000_44220000"

# Models with no spec rendered here (token inputs, not one-hot DNA) -> the
# committed Kipoi model that serves them, by class name (most specific first).
MODEL_DEFS = {
    "LogoPromoterClassifier": "model_defs/LOGO_promoter",
    "LogoSequenceClassifier": "model_defs/LOGO_promoter",  # what `finetune` writes for LOGO
    "LogoMaskedLM": "model_defs/LOGO_variant_effect",
}


def model_def_for(class_name):
    """The committed `model_defs/` entry serving a zoo class, or None.

    Args:
        class_name: str. A model class name, e.g. `"LogoPromoterClassifier"`.

    Returns:
        str, e.g. `"model_defs/LOGO_promoter"`, or None when no committed
        Kipoi model serves that class.
    """
    return MODEL_DEFS.get(class_name)


def model_def_hint(class_name):
    """One sentence pointing at the `model_defs/` entry for `class_name` (empty if none)."""
    entry = model_def_for(class_name)
    if entry is None:
        return ""
    return (
        f"; {class_name} is served by {entry} in the kipoi-genome repository "
        f"(kipoi test {entry} --source dir; its model.yaml takes `weights: FILE.keras`)"
    )


def _shape(shape):
    """Kipoi's tuple syntax: `(8192, 4)`, `(2,)` for one axis (`(2)` would read as the int 2)."""
    dims = ["null" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def md5sum(path):
    """Hex md5 of a file, as kipoi's `{url, md5}` entries need."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_one_hot(model):
    shape = tuple(model.inputs[0].shape) if len(model.inputs) == 1 else None
    if shape is None or len(shape) != 3 or shape[-1] != 4:
        raise ValueError(
            "export-kipoi renders one-hot DNA models (one input [B, L, 4]). Received: "
            f"{type(model).__name__} with inputs {[tuple(i.shape) for i in model.inputs]}"
            + model_def_hint(type(model).__name__)
        )


def model_spec(model, weights=None, md5=None, preset=None, input_length=None):
    """The model.yaml content of `model` as a dict.

    Args:
        model: a one-hot DNA Keras model (e.g. `Enformer`).
        weights: str or None. Path of the `.keras` file relative to the
            model directory, or its http(s) URL.
        md5: str or None. md5 of the file at a `weights` URL.
        preset: str or None. Preset name (shipped weights when no `weights`).
        input_length: int or None. Kipoi input length (centre-cropped to the
            model length); default `default_input_length(model)`.

    Returns:
        dict for `yaml.safe_dump`.
    """
    _check_one_hot(model)
    spec = input_spec(model, input_length)
    length = spec.shape[1]
    crop_start(model, length)  # validates input_length
    args = {}
    if weights is not None:
        args["weights"] = weights
        if md5 is not None:
            args["md5"] = md5
    if preset is not None:
        args["preset"] = preset
    if not args:
        raise ValueError("Give weights or a preset. Received: neither")
    outputs = named_outputs(model, single="preds")
    is_enformer = isinstance(model, Enformer)
    model_length = model.inputs[0].shape[1]
    crop = f"; the model uses the central {model_length:,} bp" if model_length != length else ""
    return {
        "defined_as": "model.EnformerModel" if is_enformer else "model.KerasModel",
        "args": args,
        "default_dataloader": ".",
        "info": {
            "authors": [{"name": "kipoi-genome developers"}],
            "doc": f"{type(model).__name__} ({model.name}) exported by kipoi-genome from Keras 3.",
            "cite_as": ENFORMER_CITATION if is_enformer else "",
            "license": "Apache-2.0",
        },
        "dependencies": {"pip": ["kipoi-genome", "tensorflow==2.21.0", "keras==3.15.1", "kipoi==0.8.6", "setuptools<82"]},
        "schema": {
            "inputs": {
                "name": "seq",
                "shape": _shape((length, 4)),
                "special_type": "DNASeq",
                "doc": f"One-hot DNA, ACGT order, N = all zeros, {length:,} bp{crop}.",
                "associated_metadata": "ranges",
            },
            "targets": {
                name: {"shape": _shape(tuple(tensor.shape[1:])), "doc": f"Model output {name!r}."}
                for name, tensor in outputs.items()
            },
        },
        "writers": {"hdf5_chunk_size": 8},
    }


def interval_dataloader_spec(length):
    """dataloader.yaml content (dict) of the one-hot interval dataloader for `length` bp."""
    return {
        "defined_as": "dataloader.IntervalOneHot",
        "type": "Dataset",
        "args": {
            "intervals_file": {"doc": "BED file (chrom, start, end, optional name and strand).", "example": "example_files/intervals.bed"},
            "fasta_file": {"doc": "Reference genome FASTA; contig names must match the BED.", "example": "example_files/genome.fa"},
            "auto_resize_len": {"doc": "Window length around each interval centre.", "type": "int", "optional": True, "default": length},
            "use_strand": {"doc": "Reverse-complement minus-strand intervals.", "type": "bool", "optional": True, "default": False},
            "neutral_value": {"doc": "One-hot value of N (default 0).", "type": "float", "optional": True},
            "ignore_targets": {"doc": "Do not read BED columns 7+ as targets.", "type": "bool", "optional": True, "default": True},
            "dtype": {"doc": "Output dtype.", "optional": True, "default": "float32"},
            "check_bounds": {"doc": "Reject intervals off the FASTA contigs.", "type": "bool", "optional": True, "default": True},
        },
        "info": {
            "authors": [{"name": "kipoi-genome developers"}],
            "doc": "BED intervals to N-padded one-hot DNA (kipoi_genome.data.IntervalOneHotDataset).",
            "license": "Apache-2.0",
        },
        "dependencies": {"pip": ["kipoi-genome", "pyfaidx"]},
        "output_schema": {
            "inputs": {
                "name": "seq",
                "shape": _shape((length, 4)),
                "special_type": "DNASeq",
                "doc": f"One-hot DNA, ACGT order, N = all zeros; {length:,} bp around the interval centre.",
                "associated_metadata": "ranges",
            },
            "metadata": {"ranges": {"type": "GenomicRanges", "doc": "The resized window."}},
        },
    }


MODEL_SHIM = '"""Kipoi shim: the model class lives in kipoi_genome (see model.yaml)."""\nfrom kipoi_genome.export.kipoi.adapter import {name}  # noqa: F401\n'
DATALOADER_SHIM = '"""Kipoi shim: the dataloader lives in kipoi_genome (see dataloader.yaml)."""\nfrom kipoi_genome.export.kipoi.dataloaders import {name}  # noqa: F401\n'


def write_example_files(directory):
    """Writes `genome.fa` (+ `.fai`, 3 kb of hg38 chr20) and `intervals.bed` (1 kb) into `directory`."""
    import pyfaidx

    source = importlib.resources.files("kipoi_genome").joinpath("example_data", f"{_SOURCE_CONTIG}.fa")
    with pyfaidx.Fasta(str(source)) as fasta:
        sequence = str(fasta[_SOURCE_CONTIG][20_000:23_000]).upper()
    os.makedirs(directory, exist_ok=True)
    fasta_path = os.path.join(directory, "genome.fa")
    with open(fasta_path, "w") as handle:
        handle.write(f">{EXAMPLE_CONTIG} hg38 chr20:44,100,001-44,103,000\n")
        handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    pyfaidx.Faidx(fasta_path).close()
    with open(os.path.join(directory, "intervals.bed"), "w") as handle:
        handle.write(f"{EXAMPLE_CONTIG}\t1000\t2000\tregion_1\t0\t+\n")


def _dump(data, path):
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False, allow_unicode=True, width=100)


def write_model_dir(model, directory, weights=None, md5=None, preset=None, input_length=None, overwrite=False):
    """Writes a Kipoi model directory for `model`, atomically.

    Files: `model.yaml`, `model.py` (shim), `dataloader.yaml`, `dataloader.py`
    (shim), `example_files/` (a 3 kb FASTA and a one-line BED) and, for a
    local `weights` file, a copy of it named in `model.yaml` by its file name,
    so the directory holds no path outside itself and still loads when
    moved or shared.

    Args:
        model: a one-hot DNA Keras model.
        directory: str. Output directory (must be absent or empty unless
            `overwrite`).
        weights: str or None. A local `.keras` file (copied into the
            directory) or the http(s) URL it will be served from.
        md5, preset, input_length: as in `model_spec`.
        overwrite: bool. Replace an existing directory.

    Returns:
        The directory path.
    """
    directory = os.path.abspath(os.fspath(directory))
    if os.path.isdir(directory) and os.listdir(directory) and not overwrite:
        raise ValueError(f"Output directory is not empty (use overwrite). Received: {directory}")
    if input_length is None:
        input_length = default_input_length(model)
    local = weights is not None and not os.fspath(weights).startswith(("http://", "https://"))
    if local and not os.path.isfile(weights):
        raise FileNotFoundError(f"{weights}: weights file not found")
    spec = model_spec(model, os.path.basename(weights) if local else weights, md5, preset, input_length)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.", dir=parent)
    try:
        if local:
            shutil.copyfile(weights, os.path.join(tmp, spec["args"]["weights"]))
        _dump(spec, os.path.join(tmp, "model.yaml"))
        _dump(interval_dataloader_spec(input_length), os.path.join(tmp, "dataloader.yaml"))
        with open(os.path.join(tmp, "model.py"), "w") as handle:
            handle.write(MODEL_SHIM.format(name=spec["defined_as"].split(".")[1]))
        with open(os.path.join(tmp, "dataloader.py"), "w") as handle:
            handle.write(DATALOADER_SHIM.format(name="IntervalOneHot"))
        write_example_files(os.path.join(tmp, "example_files"))
        replace_directory(tmp, directory)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return directory
