import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("KIPOI_GENOME_SHARED", REPO.parent / "shared"))
TEST_DATA = REPO / "tests" / "data"


# Property-based tests (tests/test_properties.py): 150 examples per test, about
# 2,000 in all; derandomized (the same examples every run) when CI=true.
# KIPOI_GENOME_FUZZ=10 runs 10x as many (a local fuzz run).
HYPOTHESIS_EXAMPLES = int(150 * float(os.environ.get("KIPOI_GENOME_FUZZ", "1")))
try:
    import hypothesis
except ImportError:  # the property tests skip themselves
    hypothesis = None
if hypothesis is not None:
    _common = dict(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,  # file I/O and TensorFlow calls vary with machine load
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
    )
    hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True, **_common)
    hypothesis.settings.register_profile("dev", **_common)
    hypothesis.settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")


def pytest_addoption(parser):
    parser.addoption(
        "--run-large", action="store_true", default=False, help="run tests marked large"
    )


# Tests that take longest on 2 CPU cores, one node-id prefix a line (a module,
# `module::test` or `module::test[param]`), measured with `pytest --durations=0`;
# `pytest -m "not slow"` is the fast subset (README: under 5 minutes).
SLOW_TESTS = pathlib.Path(__file__).with_name("slow_tests.txt")


def _slow_prefixes():
    lines = SLOW_TESTS.read_text().splitlines() if SLOW_TESTS.is_file() else []
    return tuple(line.split("#")[0].strip() for line in lines if line.split("#")[0].strip())


def _is_slow(nodeid, prefixes):
    return any(nodeid == p or nodeid.startswith(p + "::") or nodeid.startswith(p + "[") for p in prefixes)


def pytest_collection_modifyitems(config, items):
    prefixes = _slow_prefixes()
    for item in items:
        if _is_slow(item.nodeid, prefixes):
            item.add_marker(pytest.mark.slow)
    if config.getoption("--run-large"):
        return
    skip_large = pytest.mark.skip(reason="large test: run with --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip_large)


@pytest.fixture(scope="session")
def shared_dir():
    """The project's shared data folder (../shared), or skip if absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def enformer_fixture(shared_dir, tmp_path_factory):
    """(fixture folder, extracted checkpoint prefix) of the official-architecture fixture."""
    import tarfile

    folder = shared_dir / "fixtures" / "enformer_official_small"
    if not folder.is_dir():
        pytest.skip(f"shared Enformer fixture not found at {folder}")
    out = tmp_path_factory.mktemp("enformer_fixture")
    with tarfile.open(folder / "checkpoint.tar.xz") as archive:
        archive.extractall(out, filter="data")
    return folder, out / "checkpoint" / "variables"
