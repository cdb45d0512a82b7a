"""LOGO classifiers and the input length they were trained on: warn, error or centre crop/pad."""

import logging

import keras
import numpy as np
import pytest

from kipoi_genome.models import LogoPromoterClassifier, LogoSequenceClassifier
from kipoi_genome.models.presets import get_preset

TINY = dict(vocabulary_size=638, embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=64)
RNG = np.random.default_rng(4)


def dna(length):
    return "".join(RNG.choice(list("ACGT"), length))


@pytest.fixture(scope="module")
def weights():
    keras.utils.set_random_seed(7)
    return LogoPromoterClassifier(TINY, pooling="mean").get_weights()


def classifier(weights, **kwargs):
    model = LogoPromoterClassifier(TINY, pooling="mean", **kwargs)
    model.set_weights(weights)
    return model


def test_promoter_preset_records_its_training_length():
    assert get_preset("logo_promoter_chr20").config["sequence_length"] == 600


def test_warn_scores_as_is_with_one_warning_line(weights, caplog):
    plain = classifier(weights)  # no recorded length: nothing to check
    model = classifier(weights, sequence_length=100)
    sequences = [dna(100), dna(80), dna(140)]
    with caplog.at_level(logging.WARNING, logger="kipoi_genome"):
        first = model.predict_sequences(sequences)
        again = model.predict_sequences(sequences[1:])
        model.predict_sequences(sequences[:1])  # the trained length: no warning
    lines = [r.getMessage() for r in caplog.records if r.name == "kipoi_genome"]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "\n" not in lines[0]
    assert "trained on 100-bp sequences and received one of 80 bp" in lines[0]
    np.testing.assert_allclose(first, plain.predict_sequences(sequences), rtol=1e-6)
    np.testing.assert_allclose(again, first[1:], rtol=1e-6)


def test_error_names_the_sequence_and_length(weights):
    model = classifier(weights, sequence_length=100, length_policy="error")
    assert model.predict_sequences([dna(100)]).shape == (1,)
    with pytest.raises(ValueError, match=r"sequence 1 is 99 bp; .*trained on 100-bp sequences.*Received length: 99"):
        model.predict_sequences([dna(100), dna(99)])


def test_center_crop_pad_scores_the_central_window(weights):
    plain = classifier(weights)
    model = classifier(weights, sequence_length=100, length_policy="center_crop_pad")
    long, odd, short = dna(141), dna(120), dna(75)
    expected = plain.predict_sequences([long[20:120], odd[10:110], "N" * 12 + short + "N" * 13])
    np.testing.assert_allclose(model.predict_sequences([long, odd, short]), expected, rtol=1e-6)


def test_length_settings_round_trip_and_bad_values(weights, tmp_path):
    model = classifier(weights, sequence_length=100, length_policy="error")
    path = tmp_path / "promoter.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert (restored.sequence_length, restored.length_policy) == (100, "error")
    with pytest.raises(ValueError, match="length_policy='crop'"):
        LogoSequenceClassifier(TINY, length_policy="crop")
    with pytest.raises(ValueError, match="sequence_length=0"):
        LogoSequenceClassifier(TINY, sequence_length=0)


def test_finetune_records_the_training_length(weights):
    import pandas as pd

    from kipoi_genome.training.finetune import finetune_logo

    model = classifier(weights, sequence_length=100)  # as a 100-bp preset, fine-tuned on 60 bp
    table = pd.DataFrame({
        "sequence": [dna(60) for _ in range(24)],
        "label": [0, 1] * 12,
        "split": ["train"] * 16 + ["valid"] * 8,
    })
    finetune_logo(model, table, epochs=1, batch_size=8, log=None)
    assert model.sequence_length == 60


def test_predict_cli_length_policy_on_the_promoter_preset(tmp_path, capsys):
    import pandas as pd

    from kipoi_genome.cli.main import main

    contig = "chr20_44080000_44220000"  # the shipped example FASTA (predict's default)

    def bed(name, width):
        path = tmp_path / name
        path.write_text("".join(f"{contig}\t{start}\t{start + width}\n" for start in (20_000, 61_000)))
        return str(path)

    def predict(bed_path, *flags):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.tsv"
        code = main(["predict", "--bed", bed_path, "--output", str(out), "--no-progress", *flags])
        return code, out, capsys.readouterr().err

    short = bed("short.bed", 300)
    code, out, err = predict(short)  # the CLI writes the package's warnings to stderr (cli/errors.held_warnings)
    assert code == 0 and len(pd.read_csv(out, sep="\t")) == 2
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "trained on 600-bp sequences and received one of 300 bp" in warnings[0]

    code, out, err = predict(short, "--length-policy", "error")
    assert code == 2 and not out.exists()
    assert f"short.bed:1: region of 300 bp; " in err.strip().splitlines()[-1]

    # 800-bp regions with center_crop_pad score as their central 600 bp.
    _, cropped, _ = predict(bed("long.bed", 800), "--length-policy", "center_crop_pad")
    central = tmp_path / "central.bed"
    central.write_text("".join(f"{contig}\t{start + 100}\t{start + 700}\n" for start in (20_000, 61_000)))
    _, exact, err = predict(str(central))
    assert "warning:" not in err
    np.testing.assert_allclose(
        pd.read_csv(cropped, sep="\t")["probability"], pd.read_csv(exact, sep="\t")["probability"], rtol=1e-6
    )
