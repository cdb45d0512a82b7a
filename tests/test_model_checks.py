"""Every command checks the model it got (cli/model_checks.py); export-kipoi writes self-contained specs.

A model a command cannot run ends it with exit code 2, one stderr line naming
the file or preset, the class with its input signature and the kinds the
command runs, nothing on stdout and no output left. Commands call `main` in
this process with tiny `.keras` models and the small shipped LOGO presets.
"""

import importlib.resources
import os
import pathlib
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import yaml

from kipoi_genome.cli.main import main
from kipoi_genome.cli.model_checks import ACCEPTS, ONE_HOT, inspect_model, require_model
from kipoi_genome.models import Enformer, LogoMaskedLM, LogoPromoterClassifier, LogoSequenceClassifier
from kipoi_genome.models.presets import get_preset

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = importlib.resources.files("kipoi_genome") / "example_data"
FASTA = str(EXAMPLE / "chr20_44080000_44220000.fa")
BED = str(EXAMPLE / "example_regions.bed")
CONTIG = "chr20_44080000_44220000"
ERROR_LINE = re.compile(r"kipoi-genome [a-z-]+: error: \S.*")
ENFORMER_ONLY = "runs Enformer (presets enformer, enformer_human, enformer_tiny, or a .keras file of one)"
ONE_HOT_TEXT = "a Keras model with one one-hot input [B, L, 4] of fixed length L"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Plain Keras models saved to .keras: 100-bp and variable-length convolutions, a 600-bp regressor."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(21)
    conv = keras.Sequential([keras.Input((100, 4)), keras.layers.Conv1D(3, 5, padding="same")])
    variable = keras.Sequential([keras.Input((None, 4)), keras.layers.Conv1D(3, 5, padding="same")])
    inputs = keras.Input((600, 4))
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(4, 9, activation="relu")(inputs))
    regressor = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    paths = {}
    for name, model in (("seq100", conv), ("seqvar", variable), ("onehot600", regressor)):
        paths[name] = str(folder / f"{name}.keras")
        model.save(paths[name])
    paths["regressor"] = regressor
    paths["enformer"] = str(folder / "enformer_tiny.keras")
    Enformer.from_preset("enformer_tiny", load_weights=False).save(paths["enformer"])
    return paths


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A TSS BED, a VCF and a sequence table over the shipped example contig."""
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "tss.bed").write_text(f"{CONTIG}\t70000\t70001\tGENE1\t0\t+\n")
    (folder / "calls.vcf").write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"{CONTIG}\t70001\trs1\tA\tG\t.\t.\t.\n"
    )
    (folder / "seqs.tsv").write_text("name\tsequence\nx\t" + "ACGT" * 25 + "\n")
    (folder / "data.tsv").write_text("sequence\tlabel\n" + "ACGT" * 25 + "\t1\n")
    return {name: str(folder / name) for name in ("tss.bed", "calls.vcf", "seqs.tsv", "data.tsv")}


def run_cli(capfd, *argv):
    capfd.readouterr()
    code = main(list(argv))
    captured = capfd.readouterr()
    return code, captured.out, captured.err


def assert_rejected(capfd, tmp_path, argv, *fragments):
    """Exit 2, one stderr line with `fragments`, nothing on stdout, nothing new in `tmp_path`."""
    before = sorted(os.listdir(tmp_path))
    code, out, err = run_cli(capfd, *argv)
    assert code == 2, err[-2000:]
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and ERROR_LINE.fullmatch(lines[0]), err[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert sorted(os.listdir(tmp_path)) == before
    return lines[0]


def test_wrong_models_are_rejected_by_every_command(tmp_path, capfd, models, inputs):
    seq100, seqvar = models["seq100"], models["seqvar"]
    plain = f"{seq100}: Sequential, input [B, 100, 4] float32;"
    classifier = "logo_promoter_chr20: LogoPromoterClassifier, input [B, L] int32;"
    masked_lm = "logo_5mer_chr20_mlm: LogoMaskedLM, inputs [B, L] int32, [B, L] int32;"
    out = str(tmp_path / "out")
    cases = [
        (["interpret", "--model", seq100, "--fasta", FASTA, "--region", f"{CONTIG}:1001-1100",
          "--output", out + ".bedgraph"], plain, f"interpret {ENFORMER_ONLY}"),
        (["interpret", "--model", "logo_promoter_chr20", "--fasta", FASTA, "--region", f"{CONTIG}:1001-1100",
          "--method", "ism", "--output", out + ".npz"], classifier, f"interpret {ENFORMER_ONLY}"),
        (["plot", "--model", seq100, "--fasta", FASTA, "--region", f"{CONTIG}:1001-1100",
          "--output", out + ".png"], plain, f"plot {ENFORMER_ONLY}"),
        (["plot", "--model", "logo_promoter_chr20", "--fasta", FASTA, "--region", f"{CONTIG}:1001-1100",
          "--output", out + ".svg"], classifier, f"plot {ENFORMER_ONLY}"),
        (["predict-genes", "--model", seq100, "--fasta", FASTA, "--genes", inputs["tss.bed"],
          "--output", out + ".tsv"], plain, f"predict-genes {ENFORMER_ONLY}"),
        (["predict-genes", "--model", "logo_promoter_chr20", "--fasta", FASTA, "--genes", inputs["tss.bed"],
          "--output", out + ".tsv"], classifier, f"predict-genes {ENFORMER_ONLY}"),
        (["score-variants", "--model", "logo_promoter_chr20", "--fasta", FASTA, "--vcf", inputs["calls.vcf"],
          "--output", out + ".tsv"], classifier, "score-variants runs Enformer", "a LOGO masked LM", ONE_HOT_TEXT),
        (["score-variants", "--model", seqvar, "--fasta", FASTA, "--vcf", inputs["calls.vcf"],
          "--output", out + ".tsv"], f"{seqvar}: Sequential, input [B, L, 4] float32;", ONE_HOT_TEXT),
        (["score-variants", "--model", "logo_5mer_chr20_mlm", "--genes", inputs["tss.bed"], "--fasta", FASTA,
          "--vcf", inputs["calls.vcf"], "--output", out + ".tsv"], masked_lm, f"score-variants --genes {ENFORMER_ONLY}"),
        (["score-variants", "--model", "logo_promoter_chr20", "--runner", "direct", "--fasta", FASTA,
          "--vcf", inputs["calls.vcf"], "--output", out + ".tsv"], "logo_promoter_chr20: LogoPromoterClassifier;",
         "score-variants runs Enformer"),
        (["predict", "--model", "logo_5mer_chr20_mlm", "--output", out + ".tsv"], masked_lm,
         "predict runs Enformer", "a LOGO sequence classifier (presets logo_2002, logo_919, logo_promoter_chr20,",
         ONE_HOT_TEXT),
        (["predict", "--model", "logo_5mer_chr20_mlm", "--runner", "direct", "--output", out + ".tsv"],
         "logo_5mer_chr20_mlm: LogoMaskedLM;", "predict runs Enformer"),
        (["predict", "--model", "logo_promoter_chr20", "--output-embeddings", out + ".npy"], classifier,
         f"predict --output-embeddings {ENFORMER_ONLY}"),
        (["predict", "--model", seq100, "--format", "bigwig", "--output", out], plain,
         f"predict --format bigwig {ENFORMER_ONLY}"),
        (["predict", "--model", seq100, "--tile-genome", "--output", out + ".tsv"], plain,
         f"predict --tile-genome {ENFORMER_ONLY}"),
        (["predict", "--model", "logo_5mer_chr20_mlm", "--sequences", inputs["seqs.tsv"]], masked_lm,
         "predict --sequences runs Enformer"),
        (["export-hub", "--model", "logo_5mer_chr20_mlm", "--output", out], masked_lm, "export-hub runs Enformer",
         ONE_HOT_TEXT),
        (["export-kipoi", "--model", seqvar, "--output", out], f"{seqvar}: Sequential, input [B, L, 4] float32;",
         "export-kipoi runs Enformer", ONE_HOT_TEXT),
        (["finetune", "--model", seq100, "--data", inputs["data.tsv"], "--output", out + ".keras"], plain,
         "finetune runs Enformer", "a LOGO masked LM", "a LOGO backbone", "a LOGO sequence classifier"),
        # An Enformer where only a LOGO model runs.
        (["pretrain", "logo-evaluate", "--model", models["enformer"], "--fasta", FASTA], f"{models['enformer']}: Enformer,",
         "pretrain logo-evaluate runs a LOGO masked LM (presets logo_5mer_chr20_chrX_mlm, logo_5mer_chr20_mlm, or a .keras file of one)"),
    ]
    for argv, *fragments in cases:
        assert_rejected(capfd, tmp_path, argv, *fragments)
    commands = {argv[0] for argv, *_ in cases}
    assert commands == {"interpret", "plot", "predict-genes", "score-variants", "predict", "export-hub",
                        "export-kipoi", "finetune", "pretrain"}


def _one_hot(sequence):
    """ACGT one-hot, anything else all zeros (independent of the package's encoder)."""
    index = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((len(sequence), 4), "float32")
    for i, base in enumerate(sequence.upper()):
        if base in index:
            out[i, index[base]] = 1.0
    return out


def _fasta_sequence():
    lines = pathlib.Path(FASTA).read_text().splitlines()
    return "".join(line.strip() for line in lines[1:])


def test_predict_runs_a_plain_one_hot_model_on_windows_of_its_length_only(tmp_path, capfd, models):
    """The 600-bp regressor: the example BED's 600-bp regions as they are; a 601-bp region is one line."""
    code, out, err = run_cli(capfd, "predict", "--model", models["onehot600"], "--no-progress")
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0] == ["chrom", "start", "end", "name", "strand", "output_0", "output_1"]
    genome = _fasta_sequence()
    regions = [line.split("\t") for line in pathlib.Path(BED).read_text().splitlines()]
    x = np.stack([_one_hot(genome[int(r[1]) : int(r[2])]) for r in regions])
    expected = models["regressor"].predict_on_batch(x)
    got = np.array([[float(v) for v in row[5:]] for row in rows[1:]])
    assert got.shape == expected.shape == (len(regions), 2)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)  # TSV keeps 6 significant digits

    bed = tmp_path / "regions.bed"
    bed.write_text(f"{CONTIG}\t5000\t5600\ta\n{CONTIG}\t7000\t7601\tb\n")
    for extra in ([], ["--runner", "direct"]):
        assert_rejected(
            capfd, tmp_path,
            ["predict", "--model", models["onehot600"], "--fasta", FASTA, "--bed", str(bed),
             "--output", str(tmp_path / "p.tsv"), *extra],
            f"{bed}:2: region of 601 bp; {models['onehot600']} (Functional) reads exactly 600 bp",
            f"(value '{CONTIG}:7000-7601')",
        )


def test_inspect_model_reads_the_class_without_building_it(models):
    seq100 = inspect_model(models["seq100"])
    assert (seq100.class_name, seq100.kind, seq100.input_length) == ("Sequential", ONE_HOT, 100)
    assert inspect_model(models["onehot600"]).input_length == 600
    assert inspect_model(models["seqvar"]).kind is None
    assert inspect_model("logo_5mer_chr20_mlm").kind == "logo_masked_lm"
    assert inspect_model("enformer_tiny").kind == "enformer"
    # A loaded model and its file agree.
    loaded = require_model(keras.saving.load_model(models["seq100"]), "predict", source=models["seq100"])
    assert (loaded.class_name, loaded.kind, loaded.input_length) == ("Sequential", ONE_HOT, 100)
    with pytest.raises(FileNotFoundError, match="missing.keras: model file not found"):
        inspect_model("missing.keras")
    assert set(ACCEPTS) >= {"predict", "predict-genes", "score-variants", "interpret", "plot", "export-hub",
                            "export-kipoi", "finetune"}


def test_export_kipoi_logo_presets_name_their_model_defs_entry(tmp_path, capfd):
    for preset, entry in (("logo_promoter_chr20", "model_defs/LOGO_promoter"),
                          ("logo_5mer_chr20_mlm", "model_defs/LOGO_variant_effect")):
        line = assert_rejected(capfd, tmp_path, ["export-kipoi", "--model", preset, "--output", str(tmp_path / "k")],
                               f"{preset}: {get_preset(preset).class_name} has no spec", entry)
        assert "Received: inputs [(None, None)]" not in line
        # The entry exists and serves that class: its model.yaml's preset builds it.
        spec = yaml.safe_load((REPO / entry / "model.yaml").read_text())
        assert spec["args"]["preset"] == preset
    from kipoi_genome.export.kipoi.spec import MODEL_DEFS

    classes = {"LogoPromoterClassifier": LogoPromoterClassifier, "LogoSequenceClassifier": LogoSequenceClassifier,
               "LogoMaskedLM": LogoMaskedLM}
    for class_name, entry in MODEL_DEFS.items():
        preset = yaml.safe_load((REPO / entry / "model.yaml").read_text())["args"]["preset"]
        built = keras.saving.get_registered_object(f"kipoi_genome>{get_preset(preset).class_name}")
        assert issubclass(built, classes[class_name]), (class_name, entry)


def test_export_kipoi_spec_is_self_contained_and_loads_after_a_move(tmp_path, capfd, models):
    pytest.importorskip("kipoi", reason="kipoi not installed: pip install -e '.[kipoi]'")
    weights = tmp_path / "user" / "onehot600.keras"
    weights.parent.mkdir()
    shutil.copyfile(models["onehot600"], weights)
    out = tmp_path / "export" / "Regressor"
    code, _, err = run_cli(capfd, "export-kipoi", "--model", str(weights), "--output", str(out))
    assert code == 0, err
    spec = yaml.safe_load((out / "model.yaml").read_text())
    assert spec["args"] == {"weights": "onehot600.keras"}
    assert (out / "onehot600.keras").read_bytes() == weights.read_bytes()
    for path in out.rglob("*.yaml"):
        assert str(tmp_path) not in path.read_text(), path
    moved = tmp_path / "elsewhere" / "Regressor"
    moved.parent.mkdir()
    shutil.move(str(out), str(moved))
    shutil.rmtree(weights.parent)  # the spec needs nothing outside its folder
    probe = (
        "import sys, numpy as np, kipoi\n"
        "model = kipoi.get_model(sys.argv[1], source='dir')\n"
        "print(model.weights_path)\n"
        "np.save(sys.argv[2], model.predict_on_batch(np.load(sys.argv[3])))\n"
    )
    x = np.stack([_one_hot(_fasta_sequence()[i : i + 600]) for i in (5000, 9000)])
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", probe, str(moved), str(tmp_path / "y.npy"), str(tmp_path / "x.npy")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(moved / "onehot600.keras")
    expected = models["regressor"].predict_on_batch(x)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-6)


def test_info_says_which_commands_run_a_model(capfd, models):
    code, out, err = run_cli(capfd, "info", models["seq100"])
    assert code == 0, err
    assert out.splitlines() == [
        f"{models['seq100']}: Sequential, input [B, 100, 4] float32",
        "commands: predict, predict --sequences, score-variants, export-hub, export-kipoi",
    ]
    code, out, err = run_cli(capfd, "info", "logo_5mer_chr20_mlm")
    assert code == 0, err
    assert out.splitlines()[-1] == "commands: score-variants, finetune, pretrain logo-evaluate"
    code, out, _ = run_cli(capfd, "info", models["seqvar"])
    assert out.splitlines()[-1] == "commands: none (not a model kipoi-genome commands run)"
