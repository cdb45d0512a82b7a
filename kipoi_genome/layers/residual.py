"""Residual wrapper: `x + layer(x)`."""

import keras

from kipoi_genome.serialization import register


@register
class Residual(keras.layers.Layer):
    """Adds the input of a wrapped layer to its output.

    Args:
        layer: a `keras.layers.Layer` whose output shape equals its input
            shape (a `keras.Sequential` for several steps).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor of any shape accepted by `layer`.
        training: forwarded to `layer`.

    Returns:
        `inputs + layer(inputs)`.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"`layer` must be a keras Layer. Received: layer={layer!r}")
        self.layer = layer

    def build(self, input_shape):
        if not self.layer.built:  # a deserialized layer arrives built
            self.layer.build(input_shape)
        output_shape = tuple(self.layer.compute_output_shape(input_shape))
        if output_shape[-1] != input_shape[-1]:
            raise ValueError(
                f"Residual needs equal input and output channels; {self.layer.name} maps "
                f"{tuple(input_shape)} to {output_shape}."
            )

    def call(self, inputs, training=None):
        return inputs + self.layer(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(layer=keras.saving.serialize_keras_object(self.layer))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
