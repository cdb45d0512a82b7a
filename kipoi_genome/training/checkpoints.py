"""Resuming from the newest readable checkpoint of a folder.

A run killed while writing a checkpoint, a full disk or a partial copy can
leave the latest checkpoint truncated or corrupt (a short ``.data`` shard, a
damaged ``.index``, a garbled ``checkpoint`` state file). `restore_newest`
then falls back to the newest checkpoint that restores, and reports each one
it skipped; a checkpoint that reads fine but does not fit the model (the
config changed) is an error, not a reason to fall back.
"""

import dataclasses
import os
import re
import struct

import tensorflow as tf

# What reading a damaged checkpoint raises: TensorFlow's reader errors
# (DataLossError, NotFoundError for a missing shard, "not an sstable" for a
# bad index) and the Python reader's short reads.
_UNREADABLE = (tf.errors.OpError, IndexError, EOFError, struct.error)


@dataclasses.dataclass
class RestoreResult:
    """What `restore_newest` did.

    Attributes:
        path: str or None. The checkpoint prefix restored (None: none found).
        skipped: list of (prefix, reason) for unreadable checkpoints passed
            over, newest first.
    """

    path: object = None
    skipped: list = dataclasses.field(default_factory=list)


def _step_of(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def checkpoint_prefixes(directory):
    """Checkpoint prefixes in `directory`, newest (highest step) first.

    The union of those the ``checkpoint`` state file lists and every
    ``PREFIX.index`` file, so a garbled state file does not hide them.

    Args:
        directory: str. A `tf.train.CheckpointManager` folder.

    Returns:
        list of str.
    """
    if not tf.io.gfile.isdir(directory):
        return []
    prefixes = set()
    try:
        state = tf.train.get_checkpoint_state(directory)
    except (tf.errors.OpError, ValueError):
        state = None
    if state is not None:
        for path in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]:
            if path:
                prefixes.add(os.path.normpath(os.path.join(directory, path)))
    for name in tf.io.gfile.listdir(directory):
        if name.endswith(".index"):
            prefixes.add(os.path.normpath(os.path.join(directory, name[: -len(".index")])))
    return sorted(prefixes, key=lambda p: (_step_of(p), p), reverse=True)


def _reason(error):
    text = str(getattr(error, "message", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def restore_newest(checkpoint, directory, partial=False):
    """Restores the newest checkpoint of `directory` that can be read.

    Args:
        checkpoint: `tf.train.Checkpoint`.
        directory: str. Folder of the checkpoints.
        partial: bool. Allow checkpoint values the objects do not use
            (`expect_partial`); otherwise every existing object must match.

    Returns:
        `RestoreResult`.

    Raises:
        ValueError: every checkpoint is unreadable (naming each and why), or
            the newest readable one does not fit the model (e.g. the config
            changed since it was written).
    """
    result = RestoreResult()
    for prefix in checkpoint_prefixes(directory):
        try:
            status = checkpoint.restore(prefix)
            if partial:
                status.expect_partial()
            else:
                status.assert_existing_objects_matched()
        except _UNREADABLE as error:
            result.skipped.append((prefix, _reason(error)))
            continue
        except (ValueError, AssertionError) as error:
            raise ValueError(
                f"{prefix}: checkpoint does not fit the model built from this config "
                f"(was the config changed? use a new output_dir to start over): {_reason(error)}"
            ) from None
        result.path = prefix
        return result
    if result.skipped:
        reasons = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in result.skipped)
        raise ValueError(
            f"{directory}: no readable checkpoint to resume from ({reasons}); "
            "remove the folder to start over"
        )
    return result
