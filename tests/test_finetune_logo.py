"""LOGO `finetune` and `predict --sequences` through the CLI; sequence tables."""

import gzip
import json

import keras
import numpy as np
import pandas as pd
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data import InputFileError
from kipoi_genome.data.sequence_tables import read_sequence_table, stratified_split
from kipoi_genome.models.logo import LogoMaskedLM
from kipoi_genome.models.logo.logo_task import tokenize_views

PROMOTERS = "data/labeled/GRCh37_chr20_promoters_300bp_gcmatched.csv.gz"


def test_read_sequence_table_tsv_gz_and_errors(tmp_path):
    path = tmp_path / "t.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("id\tsequence\tlabel\tsplit\nx\tacgtn\t1\tTrain\ny\tGGCC\t0.0\tvalid\n")
    table = read_sequence_table(path, labels=True)
    assert list(table["sequence"]) == ["ACGTN", "GGCC"]
    assert list(table["label"]) == [1, 0] and list(table["split"]) == ["train", "valid"]
    assert list(table["id"]) == ["x", "y"]
    cases = [
        ("sequence,label\nACGT,1\nACGT,2\n", True, ":3: label must be 0 or 1 (value '2')"),
        ("sequence,label,split\nACGT,1,train\nACGT,0,holdout\n", True, ":3: split must be one of"),
        ("sequence,label\nACGT,1\nAC-T,0\n", True, ":3: Sequence contains a non-ACGTN character '-'"),
        ("seq,label\nACGT,1\n", True, ":1: sequence table has no 'sequence' column"),
        ("sequence\nACGT\n", True, "no 'label' column"),
        ("sequence\n", False, "has a header but no rows"),
    ]
    for index, (text, labels, message) in enumerate(cases):
        bad = tmp_path / f"bad{index}.csv"
        bad.write_text(text)
        with pytest.raises(InputFileError) as error:
            read_sequence_table(bad, labels=labels)
        assert str(error.value).startswith(str(bad)) and message in str(error.value), str(error.value)


def test_stratified_split_keeps_label_shares():
    labels = np.array([0] * 70 + [1] * 30)
    splits = stratified_split(labels, valid_fraction=0.1, seed=3)
    assert ((splits == "valid") & (labels == 0)).sum() == 7
    assert ((splits == "valid") & (labels == 1)).sum() == 3
    assert set(splits) == {"train", "valid"}
    np.testing.assert_array_equal(splits, stratified_split(labels, valid_fraction=0.1, seed=3))
    assert not np.array_equal(splits, stratified_split(labels, valid_fraction=0.1, seed=4))


def _views_probability(model, sequences):
    """P(label 1) as the mean of the model's outputs over every frame and strand, view by view."""
    views = tokenize_views(model.tokenizer, sequences)  # [N, 2k, m]
    return np.array([
        np.mean([float(model(views[i, v][None], training=False)[0, 0]) for v in range(views.shape[1])])
        for i in range(len(sequences))
    ])


def test_finetune_logo_heads_from_pretrained_and_predict_sequences(tmp_path, shared_dir, capsys):
    table = pd.read_csv(shared_dir / PROMOTERS)
    train = table[table["split"] == "train"]
    rows = pd.concat([train[train["label"] == 1].head(30), train[train["label"] == 0].head(30)])
    data = tmp_path / "labelled.tsv"
    rows[["gene", "sequence", "label"]].to_csv(data, sep="\t", index=False)  # no split column
    output, metrics = tmp_path / "promoter.keras", tmp_path / "metrics.json"
    code = main(["finetune", "--model", "logo_5mer_chr20_mlm", "--data", str(data), "--output", str(output),
                 "--epochs", "1", "--train", "heads", "--seed", "1", "--metrics", str(metrics), "--no-progress"])
    assert code == 0
    result = json.loads(metrics.read_text())
    assert result["split_counts"] == {"train": 54, "valid": 6, "test": 0}  # 10 % of each label
    assert result["valid"]["n_positive"] == 3 and "test" not in result

    model = keras.saving.load_model(output)
    pretrained = LogoMaskedLM.from_preset("logo_5mer_chr20_mlm")
    before = {v.path: v.numpy() for v in pretrained.backbone.weights}
    after = {v.path: v.numpy() for v in model.backbone.weights}
    assert sorted(before) == sorted(after)
    for path, value in before.items():  # --train heads: the backbone is bit-identical
        np.testing.assert_array_equal(after[path], value, err_msg=path)

    # predict --sequences: one row per input row, in order, other columns kept, different lengths.
    queries = pd.DataFrame({"id": ["q3", "q1", "q2"], "sequence": [
        rows["sequence"].iloc[0][:120], rows["sequence"].iloc[40], rows["sequence"].iloc[5][50:251].lower()]})
    queries.to_csv(tmp_path / "queries.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--model", str(output), "--sequences", str(tmp_path / "queries.csv"),
                 "--output", str(tmp_path / "pred.tsv"), "--no-progress"]) == 0
    predicted = pd.read_csv(tmp_path / "pred.tsv", sep="\t")
    assert list(predicted.columns) == ["id", "probability"]
    assert list(predicted["id"]) == ["q3", "q1", "q2"]
    expected = _views_probability(model, [s.upper() for s in queries["sequence"]])
    np.testing.assert_allclose(predicted["probability"], expected, rtol=1e-5, atol=1e-6)


def test_finetune_and_predict_sequences_bad_input_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\nACGTACGTAC,1\nACGTACGTAC,yes\n")
    code = main(["finetune", "--model", "logo_5mer_chr20_mlm", "--data", str(bad), "--output",
                 str(tmp_path / "m.keras"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{bad}:3: label must be 0 or 1 (value 'yes')" in err[0]
    assert not (tmp_path / "m.keras").exists()
    short = tmp_path / "short.csv"
    short.write_text("id,sequence\na,ACG\n")
    code = main(["predict", "--model", "logo_promoter_chr20", "--sequences", str(short), "--output",
                 str(tmp_path / "p.tsv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and f"{short}:2: sequence of 3 bp does not fit" in err[-1]
    assert not (tmp_path / "p.tsv").exists()
