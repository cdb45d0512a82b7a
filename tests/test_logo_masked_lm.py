"""LogoMaskedLM: tied output, loss only on masked positions, dynamic masking."""

import keras
import numpy as np
import tensorflow as tf

from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, mask_tokens, masked_lm_loss
from kipoi_genome.tokenizers import MASK_ID

TINY = dict(
    vocabulary_size=138,
    embedding_dim=8,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    max_sequence_length=64,
)
KMERS = (35, 134)  # full 3-mer ids


def test_output_is_tied_to_token_embedding():
    model = LogoMaskedLM(LogoBackbone(**TINY))
    # Head: Dense(H -> E) + LayerNorm(E) + output bias(V); no V x E output matrix.
    head = 16 * 8 + 8 + 2 * 8 + 138
    assert model.count_params() == model.backbone.count_params() + head
    features = {"token_ids": np.full((1, 6), 40, "int32"), "mask_positions": np.array([[1, 3]], "int32")}
    before = keras.ops.convert_to_numpy(model(features))
    assert before.shape == (1, 2, 138)
    table = model.backbone.token_embedding.token_embedding.embeddings
    values = keras.ops.convert_to_numpy(table).copy()
    values[100] += np.linspace(-1.0, 1.0, 8)  # only logit 100 can change at the output
    table.assign(values)
    after = keras.ops.convert_to_numpy(model(features))
    changed = np.abs(after - before).max(axis=(0, 1)) > 1e-6
    assert changed[100] and changed.sum() == 1


def test_loss_ignores_unmasked_positions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 138)).astype("float32")
    labels = rng.integers(35, 135, size=(2, 4)).astype("int32")
    weights = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], "float32")
    loss = float(masked_lm_loss(labels, logits, weights))
    # Equal to the mean cross-entropy over the three + two selected slots.
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss, (nll * weights).sum() / 5, rtol=1e-5)
    # Changing labels and logits at unselected slots does not change it.
    labels2, logits2 = labels.copy(), logits.copy()
    labels2[weights == 0] = 50
    logits2[weights == 0] = 30.0
    np.testing.assert_allclose(float(masked_lm_loss(labels2, logits2, weights)), loss, rtol=1e-6)

    # The model scores only the masked positions: the loss depends on the
    # hidden states there, and unmasked labels are never looked at.
    model = LogoMaskedLM(LogoBackbone(**TINY))
    token_ids = rng.integers(35, 135, size=(2, 20)).astype("int32")
    features, labels, weights = mask_tokens(token_ids, [3, 4], random_token_range=KMERS)
    assert model(features).shape == (2, labels.shape[1], 138)


def test_dynamic_masking_statistics_and_determinism():
    rng = np.random.default_rng(1)
    token_ids = rng.integers(35, 135, size=(400, 100)).astype("int32")
    token_ids[:, 90:] = 0  # padding is never masked
    token_ids[:, 0] = 1  # nor are special tokens
    features, labels, weights = mask_tokens(token_ids, [7, 8], random_token_range=KMERS)
    corrupted = features["token_ids"].numpy()
    positions = features["mask_positions"].numpy()
    labels, weights = labels.numpy(), weights.numpy()
    assert positions.shape == (400, 15)
    # 15% of the 89 maskable tokens per row, rounded: 13 selected slots.
    np.testing.assert_array_equal(weights.sum(axis=1), 13)
    selected = positions[weights > 0]
    assert ((selected >= 1) & (selected < 90)).all()
    np.testing.assert_array_equal(labels, np.take_along_axis(token_ids, positions, 1))
    # Only selected positions change; 80 / 10 / 10.
    changed_mask = np.zeros_like(token_ids, bool)
    rows = np.repeat(np.arange(400), 15).reshape(400, 15)
    changed_mask[rows[weights > 0], positions[weights > 0]] = True
    np.testing.assert_array_equal(corrupted[~changed_mask], token_ids[~changed_mask])
    new = np.take_along_axis(corrupted, positions, 1)[weights > 0]
    original = labels[weights > 0]
    is_mask = new == MASK_ID
    is_same = new == original
    is_random = ~is_mask & ~is_same
    assert abs(is_mask.mean() - 0.8) < 0.02
    assert abs((is_same.mean()) - 0.1 - 0.1 / 100) < 0.02
    assert abs(is_random.mean() - 0.1) < 0.02
    assert ((new[is_random] >= 35) & (new[is_random] <= 134)).all()
    # Same seed, same masks; other seed, other masks.
    again, _, _ = mask_tokens(token_ids, [7, 8], random_token_range=KMERS)
    other, _, _ = mask_tokens(token_ids, [7, 9], random_token_range=KMERS)
    np.testing.assert_array_equal(again["mask_positions"], positions)
    assert not np.array_equal(other["mask_positions"].numpy(), positions)


def test_masking_in_tf_data_and_fit_lowers_loss():
    rng = np.random.default_rng(2)
    # A learnable toy language: each row repeats one random 3-mer id.
    token_ids = np.repeat(rng.integers(35, 135, size=(64, 1)), 24, axis=1).astype("int32")
    dataset = (
        tf.data.Dataset.from_tensor_slices(token_ids)
        .repeat()
        .batch(16, drop_remainder=True)
        .enumerate()
        .map(lambda i, x: mask_tokens(x, tf.stack([tf.constant(0, tf.int64), i]), random_token_range=KMERS))
    )
    keras.utils.set_random_seed(0)
    model = LogoMaskedLM(LogoBackbone(**TINY))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(dataset, steps_per_epoch=20, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.5


def test_config_round_trip():
    model = LogoMaskedLM(LogoBackbone(**TINY))
    restored = LogoMaskedLM.from_config(model.get_config())
    assert restored.count_params() == model.count_params()
    assert restored.backbone.get_config() == model.backbone.get_config()


def _full_pass_logits(model, features):
    """Reference: every position through every pass, then the head gathers."""
    token_ids = features["token_ids"]
    hidden = model.backbone({"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids)})
    return model.masked_lm_head(hidden, features["mask_positions"])


def test_last_pass_on_masked_positions_only_equals_the_full_pass():
    rng = np.random.default_rng(5)
    token_ids = rng.integers(35, 135, size=(3, 40)).astype("int32")
    token_ids[1, 31:] = 0  # padding
    features, labels, weights = mask_tokens(token_ids, [1, 2], random_token_range=KMERS)
    for options in ({}, {"conv_embedding": True}, {"num_blocks": 2}, {"conv_feedforward": True}):
        keras.utils.set_random_seed(1)
        model = LogoMaskedLM(LogoBackbone(**TINY, num_passes=2, **options))
        # Non-trivial weights, so that every position matters in the first pass.
        model.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()])
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(model(features)),
            keras.ops.convert_to_numpy(_full_pass_logits(model, features)),
            rtol=0, atol=2e-5, err_msg=str(options),
        )
        # Gradients agree too (training step).
        grads = []
        for forward in (lambda: model(features, training=True), lambda: _full_pass_logits(model, features)):
            with tf.GradientTape() as tape:
                loss = masked_lm_loss(labels, forward(), weights)
            grads.append([g.numpy() if not isinstance(g, tf.IndexedSlices) else tf.convert_to_tensor(g).numpy()
                          for g in tape.gradient(loss, model.trainable_variables)])
        for fast, full in zip(*grads):
            np.testing.assert_allclose(fast, full, rtol=1e-4, atol=1e-6, err_msg=str(options))
