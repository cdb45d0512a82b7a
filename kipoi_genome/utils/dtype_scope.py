"""A scope that sets Keras' global dtype policy and restores it on exit."""

import contextlib

import keras


@contextlib.contextmanager
def policy_scope(name=None):
    """Layers built inside use the Keras dtype policy `name`.

    Args:
        name: str or None. A Keras policy name (``"float32"``,
            ``"bfloat16"``, ``"mixed_bfloat16"``, ...); None keeps the
            current policy. The previous policy is restored on exit, also
            after an exception.
    """
    previous = keras.config.dtype_policy()
    if name is not None:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
