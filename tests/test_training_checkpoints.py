"""Training resume with damaged checkpoints: fall back to the newest good one
with a warning; one-line errors when none is usable or the config changed;
nothing in output_dir written before the resume is validated.
"""

import json
import logging
import os
import shutil

import pytest
import yaml

from kipoi_genome.cli.main import main
from kipoi_genome.training.config import TrainConfig
from kipoi_genome.training.task import get_task_builder
from kipoi_genome.training.trainer import Trainer, train
from tests.training_helpers import tiny_config


def _config(output_dir, **overrides):
    config = tiny_config(output_dir, **overrides)
    config["train"].update(steps=4, checkpoint_every=2, keep_checkpoints=3)
    config["evaluation"] = {"num_batches": 0}
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-step run with checkpoints at steps 2 and 4."""
    output = tmp_path_factory.mktemp("trained") / "run"
    train(TrainConfig.from_dict(_config(output)))
    assert sorted(n for n in os.listdir(output / "checkpoints") if n.endswith(".index")) == [
        "ckpt-2.index", "ckpt-4.index",
    ]
    return output


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _truncate(path, size):
    data = path.read_bytes()
    path.write_bytes(data[:size])


def _trainer(output_dir, **overrides):
    config = TrainConfig.from_dict(_config(output_dir, **overrides))
    return Trainer(get_task_builder(config.task)(config), config)


def _snapshot(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
        for root, _, names in os.walk(folder)
        for name in names
    }


@pytest.mark.parametrize(
    "damage",
    ["truncated data", "empty index", "missing data"],
)
def test_damaged_latest_checkpoint_falls_back_with_a_warning(run, damage, caplog):
    latest = run / "checkpoints" / "ckpt-4"
    data = latest.with_name("ckpt-4.data-00000-of-00001")
    if damage == "truncated data":
        _truncate(data, data.stat().st_size // 3)
    elif damage == "empty index":
        _truncate(latest.with_name("ckpt-4.index"), 0)
    else:
        data.unlink()
    trainer = _trainer(run)
    with caplog.at_level(logging.WARNING, logger="kipoi_genome"):
        assert trainer.restore() == 2
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "kipoi_genome"]
    assert warning.startswith(f"warning: {latest}: unreadable checkpoint skipped (")
    events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert events[-2]["event"] == "checkpoint_skipped" and events[-2]["checkpoint"] == str(latest)
    assert events[-1]["event"] == "restored" and events[-1]["step"] == 2


def test_resumed_run_rewrites_the_damaged_checkpoint(run):
    _truncate(run / "checkpoints" / "ckpt-4.data-00000-of-00001", 100)
    result = train(TrainConfig.from_dict(_config(run)))
    assert (result.resumed_from, result.step) == (2, 4)
    assert _trainer(run).restore() == 4  # the new ckpt-4 is whole


def test_garbled_state_file_does_not_hide_checkpoints(run):
    (run / "checkpoints" / "checkpoint").write_text("garbage {{{")
    assert _trainer(run).restore() == 4  # was 0: a silent restart from scratch


def _one_line(capfd):
    captured = capfd.readouterr()
    assert captured.out == ""  # not even the "start" log line
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


def test_no_readable_checkpoint_is_one_line_and_writes_nothing(run, tmp_path, capfd):
    for step in (2, 4):
        _truncate(run / "checkpoints" / f"ckpt-{step}.data-00000-of-00001", 10)
    before = _snapshot(run)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(_config(run, **{"train.steps": 8})))
    assert main(["train", "--config", str(config_path)]) == 2
    line = _one_line(capfd)
    assert line.startswith(f"kipoi-genome train: error: {run / 'checkpoints'}: no readable checkpoint")
    assert "ckpt-4: " in line and "ckpt-2: " in line
    assert _snapshot(run) == before


def test_changed_config_fails_before_touching_output_dir(run, tmp_path, capfd):
    before = _snapshot(run)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(_config(run, **{"model.channels": 16, "train.steps": 8})))
    assert main(["train", "--config", str(config_path)]) == 2
    line = _one_line(capfd)
    assert line.startswith(f"kipoi-genome train: error: {run / 'checkpoints' / 'ckpt-4'}: checkpoint does not fit")
    assert _snapshot(run) == before  # config.yaml still holds channels: 8
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["channels"] == 8
