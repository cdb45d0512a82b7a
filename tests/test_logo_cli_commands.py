"""docs/logo.md's commands that regenerate the LOGO tables and presets, run tiny through the CLI.

pretrain logo -> pretrain logo-evaluate -> promoters build -> finetune from
the pre-training run's masked_lm.keras -> promoters kmer-baseline -> the
preset weights file, on a 300-kb genome with a promoter motif planted
upstream of every TSS.
"""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data.genome_windows import read_contig
from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, LogoPromoterClassifier
from kipoi_genome.tokenizers import KmerTokenizer
from kipoi_genome.training.baselines import KmerLogisticRegression, MarkovBaseline
from kipoi_genome.training.logo_tasks import heldout_masked_set
from kipoi_genome.training.metrics import auroc

MOTIF = "TATAAAAGGCGCGCCGCGG"
LENGTH = 300_000
TINY = dict(embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32)


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(0)
    sequence = np.array(list("ACGT"))[rng.integers(0, 4, LENGTH)]
    rows = []
    for i, tss in enumerate(range(2_000, LENGTH - 2_000, 4_000)):
        strand = "+" if i % 2 else "-"
        if strand == "+":
            sequence[tss - 40 : tss - 40 + len(MOTIF)] = list(MOTIF)
        else:
            rc = MOTIF.translate(str.maketrans("ACGT", "TGCA"))[::-1]
            sequence[tss + 40 - len(MOTIF) + 1 : tss + 41] = list(rc)
        rows.append(f"chrT\t{tss}\t{tss + 1}\tg{i}\t0\t{strand}\tprotein_coding")
    text = "".join(sequence)
    fasta = folder / "genome.fa"
    fasta.write_text(">chrT\n" + "\n".join(text[i : i + 60] for i in range(0, LENGTH, 60)) + "\n")
    tss = folder / "tss.bed"
    tss.write_text("\n".join(rows) + "\n")
    return fasta, tss, text


def test_docs_commands_run_through_the_cli(genome, tmp_path, capsys):
    fasta, tss, sequence = genome
    run = tmp_path / "run"
    # 1. Pre-training (docs/logo.md, command 1), on the generic trainer.
    assert main([
        "pretrain", "logo", "--fasta", str(fasta), "--output", str(run), "--holdout", "60000", "--k", "3",
        "--window-length", "62", "--steps", "4", "--batch-size", "4", "--checkpoint-every", "2",
        "--eval-windows", "4", "--backbone", json.dumps(TINY), "--no-progress",
    ]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["step"] == 4 and result["heldout"]["num_masked"] == 4 * 3  # 15 % of 20 tokens per window
    records = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["path"].rsplit("-", 1)[1] for r in records if r.get("event") == "checkpoint"] == ["2", "4"]

    # 2. Held-out comparison with Markov chains (command 2) from the run's masked_lm.keras.
    capsys.readouterr()
    assert main([
        "pretrain", "logo-evaluate", "--fasta", str(fasta), "--model", str(run / "masked_lm.keras"),
        "--holdout", "60000", "--windows", "6", "--window-length", "62", "--max-order", "2",
        "--validation-length", "40000", "--output", str(tmp_path / "eval.json"),
    ]) == 0
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["region"] == f"chrT:{LENGTH - 60000 + 1}-{LENGTH}"
    tokenizer = KmerTokenizer(k=3)
    heldout = heldout_masked_set(sequence, LENGTH - 60000, LENGTH, tokenizer, 6, 62, seed=1234)
    expected = MarkovBaseline(3).fit(sequence, 0, LENGTH - 60000).accuracy(heldout, 3)
    assert evaluation["markov_order_3"]["accuracy"] == pytest.approx(expected)
    assert evaluation["num_masked"] == heldout.weights.sum() == 6 * 3
    assert 0.0 <= evaluation["logo_pretrained"]["accuracy"] <= 1.0

    # 3. Promoter data set (command 3).
    table_path = tmp_path / "promoters.csv.gz"
    assert main([
        "promoters", "build", "--fasta", str(fasta), "--tss", str(tss), "--output", str(table_path),
        "--test-length", "60000", "--valid-length", "40000", "--min-tss-distance", "1000",
    ]) == 0
    table = pd.read_csv(table_path)
    positives = table[table["label"] == 1]
    assert len(positives) == len(range(2_000, LENGTH - 2_000, 4_000))  # no window crosses a split boundary
    assert (positives["sequence"].str[160 : 160 + len(MOTIF)] == MOTIF).all()
    assert table.groupby("split")["label"].mean().tolist() == [0.5, 0.5, 0.5]

    # 4. Fine-tuning from the pre-training run (command 4), and the preset file (command 5).
    model_path = tmp_path / "promoter.keras"
    assert main([
        "finetune", "--model", str(run / "masked_lm.keras"), "--data", str(table_path), "--output", str(model_path),
        "--epochs", "1", "--no-progress",
    ]) == 0
    finetuned = keras.saving.load_model(model_path)
    weights = tmp_path / "logo_promoter.weights.h5"
    finetuned.save_weights(weights)
    preset = LogoPromoterClassifier(LogoBackbone.from_config(finetuned.backbone.get_config()), pooling="mean")
    preset.load_weights(weights)
    test = list(table.loc[table["split"] == "test", "sequence"])
    np.testing.assert_allclose(preset.predict_sequences(test), finetuned.predict_sequences(test), rtol=1e-5)
    pretrained = LogoMaskedLM(LogoBackbone.from_config(json.loads((run / "model_config.json").read_text())))
    pretrained.load_weights(run / "masked_lm.weights.h5")
    assert pretrained.backbone.count_params() == finetuned.backbone.count_params()

    # 4c. The k-mer baseline: the command's numbers are the model's, above chance on the planted motif.
    capsys.readouterr()
    assert main(["promoters", "kmer-baseline", "--data", str(table_path), "--ks", "3,4"]) == 0
    baseline = json.loads(capsys.readouterr().out)
    parts = {split: table[table["split"] == split] for split in ("train", "valid", "test")}
    model = KmerLogisticRegression(ks=(3, 4)).fit(
        list(parts["train"]["sequence"]), parts["train"]["label"], list(parts["valid"]["sequence"]),
        parts["valid"]["label"],
    )
    expected = auroc(parts["test"]["label"], model.predict_proba(list(parts["test"]["sequence"])))
    assert baseline["test"]["auroc"] == pytest.approx(expected) and expected > 0.6  # measured 0.668


def test_read_contig_and_bad_inputs_exit_2(genome, tmp_path, capsys):
    fasta, tss, sequence = genome
    assert read_contig(fasta) == (sequence, "chrT")
    with pytest.raises(ValueError, match="contig='chrX'"):
        read_contig(fasta, "chrX")
    bad_bed = tmp_path / "bad.bed"
    bad_bed.write_text("chrT\t100\tx\tg\t0\t+\n")
    code = main(["promoters", "build", "--fasta", str(fasta), "--tss", str(bad_bed), "--output", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.bed:1:" in err and "'x'" in err and not (tmp_path / "p.csv").exists()
    code = main(["pretrain", "logo", "--fasta", str(fasta), "--output", str(tmp_path / "r"),
                 "--train-region", "chrT:0-1000", "--steps", "1"])
    assert code == 2 and "chrT:0-1000" in capsys.readouterr().err
    code = main(["pretrain", "logo", "--fasta", str(fasta), "--output", str(tmp_path / "r"),
                 "--train-region", "chrT:1-200000", "--eval-region", "chrT:150001-300000", "--steps", "1"])
    assert code == 2 and "overlaps" in capsys.readouterr().err
