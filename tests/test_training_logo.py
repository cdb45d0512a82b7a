"""LOGO pre-training and fine-tuning as tasks of the generic trainer."""

import numpy as np
import pytest
from scipy import stats

from kipoi_genome.training.logo_tasks import BinaryAUROC


def test_binary_auroc_matches_mann_whitney():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    scores = np.round(labels * 0.3 + rng.normal(size=200), 1)  # with ties
    metric = BinaryAUROC()
    metric.update_state(np.stack([labels[:120], scores[:120]], -1)[None])
    metric.update_state(np.stack([labels[120:], scores[120:]], -1))
    u = stats.mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
    assert metric.result() == pytest.approx(u / ((labels == 1).sum() * (labels == 0).sum()))


def test_logo_mlm_then_classifier_on_the_trainer(tmp_path, shared_dir):
    from kipoi_genome.training.config import TrainConfig
    from kipoi_genome.training.logo_tasks import build_logo_classifier_task
    from kipoi_genome.training.trainer import Trainer, train

    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20_42000000_44000000.fa.gz"
    table = shared_dir / "data" / "labeled" / "GRCh37_chr20_promoters_300bp.csv.gz"
    contig = "chr20:42000001-44000000"
    backbone = {"embedding_dim": 8, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32, "num_passes": 1}
    mlm = TrainConfig.from_dict(
        {
            "task": "logo_mlm",
            "output_dir": str(tmp_path / "mlm"),
            "train": {"steps": 3, "per_replica_batch_size": 4, "checkpoint_every": 3},
            "optimizer": {"name": "adamw", "learning_rate": 1e-3, "weight_decay": 0.01, "global_clipnorm": 1.0},
            "model": backbone,
            "data": {
                "fasta": str(fasta),
                "contig": contig,
                "train_region": f"{contig}:1-1500000",  # 1-based inclusive
                "eval_region": f"{contig}:1600001-2000000",
                "window_length": 204,
                "eval_windows": 8,
            },
        }
    )
    result = train(mlm)
    assert result.step == 3 and np.isfinite(result.last_loss)
    assert 0.0 <= result.evaluation["heldout"]["masked_accuracy"] <= 1.0
    assert result.last_loss == pytest.approx(np.log(5**5 + 13), rel=0.05)  # ~uniform over the vocabulary

    classifier = TrainConfig.from_dict(
        {
            "task": "logo_classifier",
            "output_dir": str(tmp_path / "classifier"),
            "train": {"steps": 3, "per_replica_batch_size": 8},
            "model": {
                "backbone": backbone,
                "pretrained": str(tmp_path / "mlm" / "final.weights.h5"),
                "pretrained_window_length": 204,
                "pooling": "mean",
            },
            "data": {"table": str(table)},
        }
    )
    trainer = Trainer(build_logo_classifier_task(classifier), classifier)
    for a, b in zip(result.model.backbone.get_weights(), trainer.model.backbone.get_weights()):
        np.testing.assert_array_equal(a, b)  # starts from the pre-trained backbone
    trainer.fit()
    evaluation = trainer.evaluate()["valid"]
    assert 0.0 <= evaluation["auroc"] <= 1.0 and 0.0 <= evaluation["accuracy"] <= 1.0
