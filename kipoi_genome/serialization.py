"""Keras serialization registration under the permanent package name."""

import keras

PACKAGE = "kipoi_genome"


def register(obj):
    """Registers a class or function as `kipoi_genome>Name` for `.keras` files.

    The package string never changes: saved models depend on it.
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(obj)
