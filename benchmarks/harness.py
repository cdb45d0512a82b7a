"""Shared pieces of the benchmark scripts: machine, commit, markdown, workers.

Every timed configuration of `run.py` runs in a fresh Python process
(`run_worker`), so its peak RSS is its own and one framework's thread pools
or caches never slow down another's.
"""

import gzip
import json
import os
import pathlib
import platform
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCHMARK-RESULT "


def machine_description():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores visible{memory}, {platform.system()} {platform.machine()}"


def cpu_flags():
    """The SIMD features that decide the fast paths (AVX-512, BF16, AMX)."""
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return [flag for flag in wanted if flag in flags]


def git_commit(paths=("kipoi_genome", "benchmarks")):
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return commit + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def head_vcf(source, count, directory):
    """Writes the header and first `count` records of a gzipped VCF to `directory`; returns the path."""
    with gzip.open(source, "rt") as handle:
        lines = handle.readlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")][:count]
    path = pathlib.Path(directory) / f"head{count}.vcf"
    path.write_text("".join(header + body))
    return str(path)


def update_markdown(path, section, title):
    """Replaces (or appends) the `title` section (`## ...`) of a markdown file."""
    sys.path.insert(0, str(REPO))
    from kipoi_genome.utils.atomic import atomic_output

    path = pathlib.Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(title + "\n")
    if start == -1:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(title))
        end = len(text) if following == -1 else following + 1
        new = text[:start] + section + ("\n" + text[end:] if following != -1 else "")
    with atomic_output(path, "w") as handle:
        handle.write(new.rstrip("\n") + "\n")


def emit(result):
    """Called by a worker: prints its result for `run_worker`."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_worker(task, timeout=1800, **kwargs):
    """Runs `benchmarks/workers.py task` in a fresh process; returns its result dict.

    Returns `{"error": message}` when the worker fails (a peer that is not
    installed, out of memory, ...), so one failure does not stop the table.
    """
    command = [sys.executable, str(REPO / "benchmarks" / "workers.py"), task, json.dumps(kwargs)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    if task.startswith("peer_"):
        environment["USE_TF"] = "0"  # transformers would otherwise import TensorFlow into the peer
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {done.returncode}: {tail[:200]}"}
