"""Writes `enformer_small.keras` and `enformer_small_outputs.npz` (run from the repository root).

The committed files were written at commit 387715c, before the Enformer
constructor was rebuilt from stage factories; `tests/test_enformer_saved.py`
loads them to check that `.keras` files saved by earlier versions still load
with the same weights and outputs. Rerunning this script with later code
overwrites them with that code's layout.

    python tests/data/make_enformer_keras_fixture.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kipoi_genome.models import Enformer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = dict(
    channels=24,
    num_transformer_layers=2,
    num_heads=2,
    heads={"human": 3, "mouse": 2},
    sequence_length=512,
    target_length=12,
    num_conv_tower_blocks=2,
    filter_divisible_by=4,
    inference_chunk_length=128,
)


def main():
    keras.utils.set_random_seed(0)
    model = Enformer(**CONFIG)
    # Non-trivial weights everywhere (zero-initialised attention outputs and
    # BatchNorm statistics included), so every weight moves the outputs.
    rng = np.random.default_rng(1)
    weights = [w + rng.normal(0, 0.2, w.shape).astype(w.dtype) for w in model.get_weights()]
    weights = [np.abs(w) if "variance" in v.path else w for w, v in zip(weights, model.weights)]
    model.set_weights(weights)
    x = np.eye(5, 4, dtype="float32")[rng.integers(0, 5, size=(2, CONFIG["sequence_length"]))]
    whole = keras.Model(model.input, model.output)  # the plain functional graph, no windows
    outputs = whole.predict_on_batch(x)
    model.save(os.path.join(HERE, "enformer_small.keras"))
    np.savez(
        os.path.join(HERE, "enformer_small_outputs.npz"),
        x=x,
        embeddings=model.embedding_model().predict_on_batch(x),
        **{f"output_{k}": v for k, v in outputs.items()},
    )


if __name__ == "__main__":
    main()
