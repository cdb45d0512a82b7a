"""Preset registry shared by every model class.

A preset is a named configuration, optionally with weights shipped inside the
package. `list_presets()` returns every registered name; each model class
exposes `from_preset(name)`.
"""

import dataclasses
import importlib
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
        weights_loader: `"module:function"` that builds the model with
            weights fetched at run time (e.g. the official Enformer,
            downloaded and converted), imported only when weights are
            requested so that models need not import its module;
            called as `function(cls, preset, overrides, source=, sha256=, progress=)`.
        metadata: free-form facts (parameter count, source, citation).
    """

    name: str
    class_name: str
    config: dict
    description: str = ""
    weights: Optional[str] = None
    weights_loader: Optional[str] = None
    metadata: dict = dataclasses.field(default_factory=dict)

    def weights_path(self):
        """Absolute path of the shipped weights file, or None."""
        if self.weights is None:
            return None
        return str(importlib.resources.files("kipoi_genome").joinpath(self.weights))

    @property
    def trained(self):
        """True when the preset comes with trained weights (shipped or fetched)."""
        return self.weights is not None or self.weights_loader is not None


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
    def from_preset(cls, name, load_weights=True, source=None, sha256=None, progress=True, **overrides):
        """Builds the model of preset `name`.

        Args:
            name: a name from `cls.presets()`.
            load_weights: load the preset's weights (shipped, or downloaded
                and cached for presets like `"enformer"`); False builds the
                architecture with random weights, offline.
            source: for downloaded weights, a URL, archive or directory to
                use instead of the published one (see
                `kipoi_genome.convert.enformer_weights`).
            sha256: expected sha256 of `source`'s archive.
            progress: download progress bar.
            **overrides: constructor arguments replacing the preset's.
        """
        preset = get_preset(name, cls.__name__)
        if load_weights and preset.weights_loader is not None:
            module, _, function = preset.weights_loader.partition(":")
            loader = getattr(importlib.import_module(module), function)
            return loader(cls, preset, overrides, source=source, sha256=sha256, progress=progress)
        if source is not None or sha256 is not None:
            raise ValueError(
                f"`source` and `sha256` apply to presets with downloaded weights and load_weights=True. "
                f"Received: preset {name!r}, load_weights={load_weights}, source={source!r}"
            )
        model = cls(**{**preset.config, **overrides})
        if load_weights and preset.weights is not None:
            model.load_weights(preset.weights_path())
        return model
