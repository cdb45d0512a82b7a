"""Learning-rate schedules."""

import keras
from keras import ops

from kipoi_genome.serialization import register

__all__ = ["LinearWarmup"]


@register
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to a peak learning rate, then constant (or a decay).

    `lr(step) = peak * min(1, step / warmup_steps)` for the first
    `warmup_steps` optimizer steps, as in Enformer's training notebook (5e-4
    over 5,000 steps), then `after_warmup(step - warmup_steps)` if given, else
    the peak value.

    Args:
        peak_learning_rate: float > 0. Value reached at the end of warm-up.
        warmup_steps: int >= 0. Length of warm-up; 0 means no warm-up.
        after_warmup: optional `LearningRateSchedule` used after warm-up,
            called with the number of steps since warm-up ended.

    Example:
        >>> schedule = LinearWarmup(5e-4, warmup_steps=5000)
        >>> float(schedule(2500))
        0.00025
    """

    def __init__(self, peak_learning_rate, warmup_steps, after_warmup=None):
        if not float(peak_learning_rate) > 0:
            raise ValueError(
                "`peak_learning_rate` must be > 0. "
                f"Received: peak_learning_rate={peak_learning_rate}"
            )
        if int(warmup_steps) != warmup_steps or warmup_steps < 0:
            raise ValueError(
                f"`warmup_steps` must be an integer >= 0. Received: warmup_steps={warmup_steps}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.after_warmup = after_warmup

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = ops.cast(self.peak_learning_rate, "float32")
        if self.warmup_steps > 0:
            warm = peak * ops.minimum(1.0, step / float(self.warmup_steps))
        else:
            warm = peak
        if self.after_warmup is None:
            return warm
        decayed = ops.cast(self.after_warmup(ops.maximum(step - self.warmup_steps, 0.0)), "float32")
        return ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        after = self.after_warmup
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "after_warmup": None if after is None else keras.saving.serialize_keras_object(after),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("after_warmup") is not None:
            config["after_warmup"] = keras.saving.deserialize_keras_object(config["after_warmup"])
        return cls(**config)
