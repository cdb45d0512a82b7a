"""Shared helpers for tests/test_training_*.py: tiny configs and subprocess runs."""

import json
import os
import socket
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(output_dir, **overrides):
    """A tiny `tracks` config dict: dilated-conv stand-in, synthetic DNA, two organisms."""
    config = {
        "task": "tracks",
        "seed": 3,
        "output_dir": str(output_dir),
        "train": {"steps": 4, "per_replica_batch_size": 4, "checkpoint_every": 2, "log_every": 1},
        "optimizer": {"name": "sgd", "learning_rate": 0.05, "global_clipnorm": 0.5},
        "model": {"architecture": "dilated_conv", "channels": 8, "num_dilated_layers": 2},
        "data": {
            "source": "synthetic",
            "sequence_length": 64,
            "bin_size": 8,
            "target_length": 4,
            "organisms": {"human": ["gc", "cpg"], "mouse": ["gc"]},
            "augment": {"max_shift": 2},
        },
        "evaluation": {"num_batches": 2, "tta": {"shifts": [0, 1], "reverse_complement": True}},
    }
    for dotted, value in overrides.items():
        section = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            section = section.setdefault(key, {})
        section[leaf] = value
    return config


def python_env(**extra):
    """Environment for child Python processes: quiet TF, the repo importable."""
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def run_python(code, timeout=120, env=None):
    """Runs `code` in a fresh interpreter; returns the JSON of its last stdout line."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or python_env(),
    )
    if result.returncode != 0:
        raise AssertionError(f"child failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
