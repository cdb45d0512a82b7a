"""Kipoi: model_defs/LOGO_promoter and LOGO_variant_effect with `kipoi test` and `kipoi predict`.

Each spec runs on a tiny LOGO model of the same class (a copy of the model
directory whose `args` name the tiny `.keras` file), so the schema,
dataloader and adapter are exercised without the shipped presets. The
shipped-preset runs skip until the preset is registered.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import yaml

pytest.importorskip("kipoi", reason="kipoi not installed: pip install -e '.[kipoi]'")

from kipoi_genome.data import FastaExtractor, read_bed, read_vcf  # noqa: E402
from kipoi_genome.data.variants import variant_window  # noqa: E402
from kipoi_genome.models.logo import (  # noqa: E402
    LogoMaskedLM,
    LogoPromoterClassifier,
    zero_shot_variant_scores,
)
from kipoi_genome.models.presets import get_preset, list_presets  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(  # k = 5, room for 1,004-bp windows (200 tokens per frame)
    vocabulary_size=3138, embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=256
)
TOL = 1e-6


def kipoi_cli(*args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "kipoi", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def spec_copy(name, weights, tmp_path):
    """model_defs/<name> copied to tmp_path with `args: {weights: ...}`, pointing at the repo's dataloader."""
    source = REPO / "model_defs" / name
    target = tmp_path / name
    shutil.copytree(source, target)
    spec = yaml.safe_load((source / "model.yaml").read_text())
    spec["args"] = {"weights": weights}
    dataloader = (source / spec["default_dataloader"]).resolve()
    spec["default_dataloader"] = os.path.relpath(dataloader, target)  # kipoi takes relative paths only
    (target / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return target, dataloader / "example_files"


def test_logo_promoter_spec_on_a_tiny_model(tmp_path):
    keras.utils.set_random_seed(8)
    model = LogoPromoterClassifier(TINY)
    weights = str(tmp_path / "promoter.keras")
    model.save(weights)
    model_dir, examples = spec_copy("LOGO_promoter", weights, tmp_path)
    assert "Successfully ran test_predict" in kipoi_cli("test", str(model_dir), "--source", "dir", cwd=tmp_path)
    args = f'{{"intervals_file": "{examples / "promoters.bed"}", "fasta_file": "{examples / "genome.fa"}"}}'
    kipoi_cli(
        "predict", str(model_dir), "--source", "dir", "--dataloader_args", args, "--keep_metadata",
        "-o", str(tmp_path / "p.tsv"), str(tmp_path / "p.h5"), cwd=tmp_path,
    )
    # Expected: the Keras model on the windows read by kipoi_genome, minus strand reverse-complemented.
    fasta = FastaExtractor(str(examples / "genome.fa"))
    windows = [fasta.extract(iv.chrom, iv.start, iv.end, iv.strand) for iv in read_bed(str(examples / "promoters.bed"))]
    expected = model.predict_sequences(windows)
    with h5py.File(tmp_path / "p.h5") as h5:
        got = h5["preds"][:]
        ids = [v.decode() if isinstance(v, bytes) else v for v in h5["metadata/ranges/id"][:]]
    assert ids == ["window_plus", "window_minus"] and got.shape == (2, 1)
    assert float(np.max(np.abs(got[:, 0] - expected))) <= TOL
    header, *rows = (tmp_path / "p.tsv").read_text().splitlines()
    column = header.split("\t").index("preds/0")
    tsv = np.array([float(row.split("\t")[column]) for row in rows])
    assert float(np.max(np.abs(tsv - expected))) <= TOL


def test_logo_variant_effect_spec_on_a_tiny_model(tmp_path):
    keras.utils.set_random_seed(9)
    model = LogoMaskedLM(TINY)
    weights = str(tmp_path / "mlm.keras")
    model.save(weights)
    model_dir, examples = spec_copy("LOGO_variant_effect", weights, tmp_path)
    assert "Successfully ran test_predict" in kipoi_cli("test", str(model_dir), "--source", "dir", cwd=tmp_path)
    args = f'{{"vcf_file": "{examples / "variants.vcf"}", "fasta_file": "{examples / "genome.fa"}"}}'
    kipoi_cli(
        "predict", str(model_dir), "--source", "dir", "--dataloader_args", args, "--keep_metadata",
        "-o", str(tmp_path / "v.tsv"), str(tmp_path / "v.h5"), cwd=tmp_path,
    )
    fasta = FastaExtractor(str(examples / "genome.fa"))
    windows = [variant_window(fasta, v, 1004) for v in read_vcf(str(examples / "variants.vcf"))]
    # The package's own scorer with the alleles: what `score-variants` computes (indels included).
    expected = zero_shot_variant_scores(
        model, [w.reference for w in windows], [w.alternative for w in windows],
        variants=[(w.variant.start - w.start, w.ref, w.alt) for w in windows],
    )
    substitutions = zero_shot_variant_scores(model, [w.reference for w in windows[:2]], [w.alternative for w in windows[:2]])
    with h5py.File(tmp_path / "v.h5") as h5:
        got = h5["preds"][:, 0]
        ids = [v.decode() if isinstance(v, bytes) else v for v in h5["metadata/variant/id"][:]]
    assert ids == ["snv_1", "mnv_1", "del_1"]
    assert [w.variant.start - w.start for w in windows] == [502, 502, 502]  # sequence_length // 2
    assert np.isfinite(expected).all() and float(np.max(np.abs(got - expected))) <= TOL
    assert float(np.max(np.abs(got[:2] - substitutions))) <= TOL  # the alleles change nothing for substitutions
    assert abs(got[2]) > 1e-6  # the deletion (AAG>A) is scored
    assert "preds/0" in (tmp_path / "v.tsv").read_text().splitlines()[0].split("\t")


@pytest.mark.parametrize(
    "name, preset", [("LOGO_promoter", "logo_promoter_chr20"), ("LOGO_variant_effect", "logo_5mer_chr20_mlm")]
)
def test_shipped_logo_specs_with_kipoi_test(name, preset):
    import kipoi_genome.models.logo  # noqa: F401  (registers LOGO presets, if any)

    if preset not in list_presets():
        pytest.skip(f"preset {preset!r} is not registered yet (model_defs/{name} names it)")
    weights = get_preset(preset).weights_path()
    if weights is None or not os.path.isfile(weights):
        pytest.skip(f"preset {preset!r} has no shipped weights file yet ({weights})")
    assert "Successfully ran test_predict" in kipoi_cli("test", f"model_defs/{name}", "--source", "dir", cwd=REPO)
