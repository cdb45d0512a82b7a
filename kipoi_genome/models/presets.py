"""Preset registry shared by every model class.

A preset is a named configuration, optionally with weights shipped inside the
package. `list_presets()` returns every registered name; each model class
exposes `from_preset(name)`.
"""

import dataclasses
import importlib.resources
from typing import Optional

_PRESETS = {}


@dataclasses.dataclass(frozen=True)
class Preset:
    """One preset entry.

    Attributes:
        name: unique preset name, e.g. `"enformer"`.
        class_name: name of the model class the preset builds.
        config: constructor keyword arguments.
        description: one-line human description.
        weights: path of a `.weights.h5` file relative to the `kipoi_genome`
            package, or None for random initialisation.
        metadata: free-form facts (parameter count, source, citation).
    """

    name: str
    class_name: str
    config: dict
    description: str = ""
    weights: Optional[str] = None
    metadata: dict = dataclasses.field(default_factory=dict)

    def weights_path(self):
        """Absolute path of the shipped weights file, or None."""
        if self.weights is None:
            return None
        return str(importlib.resources.files("kipoi_genome").joinpath(self.weights))


def register_preset(preset):
    """Adds `preset` to the registry; names must be unique."""
    if preset.name in _PRESETS:
        raise ValueError(f"Preset {preset.name!r} is already registered.")
    _PRESETS[preset.name] = preset
    return preset


def get_preset(name, class_name=None):
    """Returns the `Preset` called `name`, checking it builds `class_name`."""
    if name not in _PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Available presets: {sorted(_PRESETS)}"
        )
    preset = _PRESETS[name]
    if class_name is not None and preset.class_name != class_name:
        matching = sorted(p.name for p in _PRESETS.values() if p.class_name == class_name)
        raise ValueError(
            f"Preset {name!r} builds {preset.class_name}, not {class_name}. "
            f"Presets for {class_name}: {matching}"
        )
    return preset


def list_presets(class_name=None):
    """Names of all registered presets, optionally only those of one class."""
    return sorted(
        name
        for name, preset in _PRESETS.items()
        if class_name is None or preset.class_name == class_name
    )


class PresetMixin:
    """Adds `from_preset` and `presets` to a Keras model class."""

    @classmethod
    def presets(cls):
        """Names of the presets that build this class."""
        return list_presets(cls.__name__)

    @classmethod
    def from_preset(cls, name, load_weights=True, **overrides):
        """Builds the model of preset `name`.

        Args:
            name: a name from `cls.presets()`.
            load_weights: load the shipped weights when the preset has them.
            **overrides: constructor arguments replacing the preset's.
        """
        preset = get_preset(name, cls.__name__)
        model = cls(**{**preset.config, **overrides})
        if load_weights and preset.weights is not None:
            model.load_weights(preset.weights_path())
        return model
