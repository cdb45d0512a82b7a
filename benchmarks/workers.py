"""One timed configuration per process: `python benchmarks/workers.py TASK JSON_KWARGS`.

Called by `run.py` through `harness.run_worker`; prints one result line.
Tasks: `matmul_peak`, `enformer_inference`, `enformer_train`, `logo_mlm`,
each with `framework="ours"` (kipoi_genome, TensorFlow/Keras) or the peer
(`"enformer-pytorch"`, `"hf-albert"`). Both frameworks get the same
configuration, the same input shapes and the machine's default thread count.
"""

import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import emit  # noqa: E402

# The same Enformer sizes for both frameworks (kipoi_genome names -> enformer-pytorch names).
ENFORMER_CONFIGS = {
    "full": dict(channels=1536, num_transformer_layers=11, num_heads=8, heads={"human": 5313, "mouse": 1643},
                 sequence_length=196_608, target_length=896, filter_divisible_by=128),
    "medium": dict(channels=384, num_transformer_layers=4, num_heads=8, heads={"human": 128},
                   sequence_length=32_768, target_length=128, filter_divisible_by=32),
    "tiny": dict(channels=48, num_transformer_layers=1, num_heads=2, heads={"human": 8, "mouse": 4},
                 sequence_length=4096, target_length=16, filter_divisible_by=8),
}
# LOGO k = 5 masked LM (LOGO.md): vocabulary 3,138, E 128 -> H 256, 2 passes of one shared block.
# Literal copies of the `enformer_tiny` preset and of `BACKBONE_1KB` (tests/test_benchmarks.py
# checks they agree): importing kipoi_genome would load TensorFlow into the PyTorch peers' processes.
LOGO = dict(vocabulary_size=3138, embedding_dim=128, hidden_dim=256, num_heads=8, intermediate_dim=1024,
            num_passes=2, num_blocks=1, max_sequence_length=512)


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(function, warmup, repeats):
    """Best wall time of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), times


def _one_hot(batch, length, seed=0):
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (batch, length))]


# ----------------------------------------------------------------------------
# Ours (TensorFlow / Keras 3)
# ----------------------------------------------------------------------------


def _ours_enformer(size, precision, **overrides):
    from kipoi_genome.models import dtype_policy
    from kipoi_genome.models import Enformer

    with dtype_policy(precision):
        return Enformer(**ENFORMER_CONFIGS[size], **overrides)


def matmul_peak(precision="float32", size=4096, repeats=5):
    import tensorflow as tf

    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    a = tf.random.normal([size, size], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    best, _ = timed(lambda: tf.matmul(a, b).numpy(), 2, repeats)
    return {"gflops": 2 * size**3 / best / 1e9, "size": size}


def ours_enformer_inference(precision="float32", batch=1, jit=False, repeats=1, compare=False, size="full",
                            **overrides):
    import tensorflow as tf

    from kipoi_genome.models.enformer.chunked_inference import forward as windowed, predict_on_batch

    model = _ours_enformer(size, precision, **overrides)
    x = _one_hot(batch, ENFORMER_CONFIGS[size]["sequence_length"])
    # As the package runs it: stem and conv tower window by window (`inference_chunk_length`).
    forward = tf.function(lambda x: windowed(model, x), jit_compile=jit)
    outputs = {}

    def call():
        outputs["last"] = forward(x)["human"].numpy()

    best, times = timed(call, 1, repeats)
    result = {"seconds_per_sequence": best / batch, "times": times, "peak_rss_gb": peak_rss_gb(),
              "parameters": model.count_params()}
    if compare and precision != "float32":
        reference = _ours_enformer(size, "float32")
        reference.set_weights(model.get_weights())
        expected = predict_on_batch(reference, x)["human"]
        got = outputs["last"]
        result["max_relative_error_vs_float32"] = float(np.abs(got - expected).max() / np.abs(expected).max())
        result["pearson_vs_float32"] = float(np.corrcoef(got.ravel(), expected.ravel())[0, 1])
    return result


def ours_flops(size="full", batch=1):
    from kipoi_genome.inference.flops import forward_flops

    from kipoi_genome.layers import AttentionPool1D

    shape = (batch, ENFORMER_CONFIGS[size]["sequence_length"], 4)
    counts = forward_flops(_ours_enformer(size, "float32"), shape)  # default (chunked) inference
    whole = _ours_enformer(size, "float32", inference_chunk_length=None)
    counts["whole_sequence"] = forward_flops(whole, shape)["total"]
    # The published pooling computes logits at both positions of each window;
    # ours computes them once on the difference (same result): add them back.
    extra = 0
    for layer in whole.layers:
        if isinstance(layer, AttentionPool1D):
            _, length, channels = layer.input.shape
            extra += 2 * batch * (length // 2) * channels * layer.logit_dense.units
    counts["nominal"] = counts["whole_sequence"] + extra
    return counts


def ours_enformer_train(size="tiny", batch=4, steps=5, jit=False, precision="float32"):
    import keras
    import tensorflow as tf

    from kipoi_genome.training.losses import poisson_nll

    model = _ours_enformer(size, precision)
    config = ENFORMER_CONFIGS[size]
    optimizer = keras.optimizers.Adam(1e-4)
    optimizer.build(model.trainable_variables)
    x = tf.constant(_one_hot(batch, config["sequence_length"]))
    y = tf.constant(np.random.default_rng(1).gamma(1.0, 1.0, (batch, config["target_length"], config["heads"]["human"])), tf.float32)

    @tf.function(jit_compile=jit)
    def step():
        with tf.GradientTape() as tape:
            prediction = tf.cast(model(x, training=True)["human"], tf.float32)
            loss = tf.reduce_mean(poisson_nll(y, prediction))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    best, times = timed(lambda: step().numpy(), 2, steps)
    return {"seconds_per_step": best, "times": times, "peak_rss_gb": peak_rss_gb(),
            "parameters": model.count_params()}


def ours_logo_mlm(precision="float32", batch=64, length=200, steps=5, jit=False):
    import keras
    import tensorflow as tf

    from kipoi_genome.models import dtype_policy
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, mask_tokens
    from kipoi_genome.models.logo.logo_masked_lm import masked_lm_loss

    # Training in bfloat16 keeps float32 master weights (Keras mixed precision).
    with dtype_policy("mixed_bfloat16" if precision == "bfloat16" else precision):
        model = LogoMaskedLM(LogoBackbone(**LOGO))
    optimizer = keras.optimizers.AdamW(1e-4)
    ids = tf.constant(np.random.default_rng(0).integers(10, LOGO["vocabulary_size"], (batch, length)), tf.int32)
    features, labels, weights = mask_tokens(ids, tf.constant([0, 1], tf.int64), random_token_range=(10, 3137))

    @tf.function(jit_compile=jit)
    def step():
        with tf.GradientTape() as tape:
            logits = tf.cast(model(features, training=True), tf.float32)
            loss = masked_lm_loss(labels, logits, weights)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    best, times = timed(lambda: step().numpy(), 3, steps)
    return {"tokens_per_second": batch * length / best, "seconds_per_step": best, "times": times,
            "peak_rss_gb": peak_rss_gb(), "parameters": model.count_params()}


def ours_enformer_interpret(precision="float32", size="full"):
    """Seconds of one forward pass, one variant effect and one ISM substitution, in one process.

    Variant effect: the calls `predict_pairs_averaged` makes for one SNV at
    the window centre, timed in one go: the reference trunk and transformer +
    heads (this half is the forward pass), then the alternative's trunk
    window spliced into the reference trunk and the transformer + heads.
    ISM: one batch of substitutions as `in_silico_mutagenesis` runs it after
    its one reference pass. One untimed reference pass and trunk window
    first (tracing, graph optimisation), then each measurement is one call.
    """
    import tensorflow as tf

    from kipoi_genome.interpret.incremental import IncrementalEnformer, changed_span

    model = _ours_enformer(size, precision)
    length = ENFORMER_CONFIGS[size]["sequence_length"]
    x = _one_hot(1, length)
    centre = length // 2
    alternative = x.copy()
    alternative[0, centre] = np.roll(alternative[0, centre], 1)
    incremental = IncrementalEnformer(model)
    reference_trunk = incremental.conv_features(x)  # warm-up
    incremental.heads(reference_trunk)
    incremental.alternative_conv_features(reference_trunk, alternative, [(centre, centre + 1)])

    start = time.perf_counter()
    reference_trunk = incremental.conv_features(x)
    incremental.heads(reference_trunk)
    forward_seconds = time.perf_counter() - start
    spans = [changed_span(x[0], alternative[0])]
    incremental.heads(incremental.alternative_conv_features(reference_trunk, alternative, spans))
    variant_seconds = time.perf_counter() - start

    count = incremental.body_batch
    positions = centre + np.arange(count)
    mutants = np.repeat(x, count, axis=0)
    for k, position in enumerate(positions):
        mutants[k, position] = np.roll(mutants[k, position], 1)
    spans = [(int(p), int(p) + 1) for p in positions]

    def substitutions():
        trunks = tf.repeat(reference_trunk, count, axis=0)
        incremental.heads(incremental.alternative_conv_features(trunks, mutants, spans))

    ism_seconds, _ = timed(substitutions, 0, 1)
    return {"forward_seconds": forward_seconds, "variant_seconds": variant_seconds,
            "ism_seconds_per_substitution": ism_seconds / count, "ism_batch": count,
            "peak_rss_gb": peak_rss_gb()}


def ours_enformer_gradient(precision="float32", size="full", batch=1):
    """`gradient_times_input` for the human head's central bin, all tracks (the CLI default)."""
    from kipoi_genome.interpret import gradient_times_input

    model = _ours_enformer(size, precision)
    config = ENFORMER_CONFIGS[size]
    x = _one_hot(batch, config["sequence_length"])
    start = time.perf_counter()
    scores = gradient_times_input(model, x, head="human", bins=[config["target_length"] // 2])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_gb": peak_rss_gb(),
            "bases_with_nonzero_score": int(np.count_nonzero(scores.sum(-1)))}


# ----------------------------------------------------------------------------
# Peers (PyTorch)
# ----------------------------------------------------------------------------


def _peer_enformer(size):
    from enformer_pytorch import Enformer

    config = ENFORMER_CONFIGS[size]
    return Enformer.from_hparams(
        dim=config["channels"], depth=config["num_transformer_layers"], heads=config["num_heads"],
        output_heads=config["heads"], target_length=config["target_length"],
        dim_divisible_by=config["filter_divisible_by"], num_downsamples=7, attn_dim_key=64,
    )


def _autocast(precision):
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")


def peer_enformer_inference(precision="float32", batch=1, repeats=1, size="full"):
    import torch

    torch.manual_seed(0)
    model = _peer_enformer(size).eval()
    x = torch.from_numpy(_one_hot(batch, ENFORMER_CONFIGS[size]["sequence_length"]))

    def call():
        with torch.inference_mode(), _autocast(precision):
            model(x)["human"].float().numpy()

    best, times = timed(call, 1, repeats)
    return {"seconds_per_sequence": best / batch, "times": times, "peak_rss_gb": peak_rss_gb(),
            "parameters": sum(p.numel() for p in model.parameters())}


def peer_enformer_train(size="tiny", batch=4, steps=5, precision="float32"):
    import torch

    torch.manual_seed(0)
    model = _peer_enformer(size).train()
    config = ENFORMER_CONFIGS[size]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.from_numpy(_one_hot(batch, config["sequence_length"]))
    y = torch.from_numpy(
        np.random.default_rng(1).gamma(1.0, 1.0, (batch, config["target_length"], config["heads"]["human"])).astype(np.float32)
    )

    def step():
        with _autocast(precision):
            loss = model(x, head="human", target=y)  # enformer-pytorch's Poisson loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    best, times = timed(step, 2, steps)
    return {"seconds_per_step": best, "times": times, "peak_rss_gb": peak_rss_gb(),
            "parameters": sum(p.numel() for p in model.parameters())}


def peer_logo_mlm(precision="float32", batch=64, length=200, steps=5):
    import torch
    from transformers import AlbertConfig, AlbertForMaskedLM

    torch.manual_seed(0)
    config = AlbertConfig(
        vocab_size=LOGO["vocabulary_size"], embedding_size=LOGO["embedding_dim"], hidden_size=LOGO["hidden_dim"],
        num_hidden_layers=LOGO["num_passes"], num_hidden_groups=LOGO["num_blocks"], num_attention_heads=LOGO["num_heads"],
        intermediate_size=LOGO["intermediate_dim"], hidden_act="gelu", max_position_embeddings=LOGO["max_sequence_length"],
        type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
    )
    model = AlbertForMaskedLM(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(10, LOGO["vocabulary_size"], (batch, length)))
    labels = torch.full((batch, length), -100)
    selected = torch.from_numpy(rng.random((batch, length)) < 0.15)
    labels[selected] = ids[selected]

    def step():
        with _autocast(precision):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    best, times = timed(step, 3, steps)
    return {"tokens_per_second": batch * length / best, "seconds_per_step": best, "times": times,
            "peak_rss_gb": peak_rss_gb(), "parameters": sum(p.numel() for p in model.parameters())}


TASKS = {
    "matmul_peak": matmul_peak,
    "ours_enformer_inference": ours_enformer_inference,
    "ours_flops": ours_flops,
    "ours_enformer_train": ours_enformer_train,
    "ours_logo_mlm": ours_logo_mlm,
    "ours_enformer_interpret": ours_enformer_interpret,
    "ours_enformer_gradient": ours_enformer_gradient,
    "peer_enformer_inference": peer_enformer_inference,
    "peer_enformer_train": peer_enformer_train,
    "peer_logo_mlm": peer_logo_mlm,
}

if __name__ == "__main__":
    task, arguments = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    emit(TASKS[task](**arguments))
