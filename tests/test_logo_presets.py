"""LOGO presets: names, official sizes, shipped weights that load offline."""

import pathlib
import socket

import numpy as np
import pytest

import kipoi_genome
from kipoi_genome.models import (
    LogoBackbone,
    LogoChromatin,
    LogoMaskedLM,
    LogoPromoterClassifier,
    list_presets,
)
from kipoi_genome.models.presets import get_preset

PACKAGE = pathlib.Path(kipoi_genome.__file__).resolve().parent
SHIPPED = ["logo_5mer_chr20_mlm", "logo_5mer_chr20", "logo_5mer_chr20_chrX_mlm", "logo_promoter_chr20", "logo_promoter_chr20_gc"]


@pytest.fixture()
def no_network(monkeypatch, tmp_path):
    """Any socket use fails, and the working directory is an empty folder."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.chdir(tmp_path)


def test_names_registered():
    names = set(list_presets())
    assert {"logo_5mer_1kb", "logo_5mer_2kb", "logo_919", "logo_2002", *SHIPPED} <= names
    assert "logo_promoter_chr20" in LogoPromoterClassifier.presets()


@pytest.mark.parametrize(
    "cls, name, params",
    [(LogoBackbone, "logo_5mer_1kb", 1_290_496), (LogoChromatin, "logo_919", 1_526_679), (LogoChromatin, "logo_2002", 1_870_546)],
)
def test_official_size_presets(cls, name, params):
    assert cls.from_preset(name).count_params() == params


def test_chr20_presets_use_the_convolution_option():
    # LOGO.md §2.3: Conv1D kernels 2, 3 and 5 with E filters on the token
    # embeddings add (2 + 3 + 5) * 128 * 128 + 3 * 128 = 164,224 parameters.
    backbone = LogoBackbone.from_preset("logo_5mer_chr20")
    assert backbone.conv_embedding and not backbone.conv_feedforward
    assert backbone.count_params() == 1_290_496 + 164_224
    assert LogoPromoterClassifier.from_preset("logo_promoter_chr20").backbone.conv_embedding


def test_shipped_weights_are_inside_the_package_and_small():
    paths = {pathlib.Path(get_preset(name).weights_path()).resolve() for name in SHIPPED}
    for path in paths:
        assert path.is_file() and PACKAGE in path.parents
    assert len(paths) == 4  # the backbone preset reuses the masked-LM file
    assert sum(path.stat().st_size for path in paths) < 26 * 2**20  # 6.1 + 6.1 + 5.9 + 5.9 MB


def test_promoter_preset_loads_offline_and_predicts(no_network):
    model = LogoPromoterClassifier.from_preset("logo_promoter_chr20")
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 600)) for _ in range(2)]
    sequences.append("GC" * 300)
    probabilities = model.predict_sequences(sequences)
    assert probabilities.shape == (3,) and ((probabilities > 0) & (probabilities < 1)).all()


def test_backbone_preset_shares_the_masked_lm_weights(no_network):
    masked_lm = LogoMaskedLM.from_preset("logo_5mer_chr20_mlm")
    backbone = LogoBackbone.from_preset("logo_5mer_chr20")
    for a, b in zip(masked_lm.backbone.weights, backbone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
