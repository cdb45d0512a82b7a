"""`kipoi-genome info`: presets and versions."""

import json


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "info",
        help="list presets, or show one preset's configuration",
        description=(
            "List the model presets shipped with kipoi-genome, or show one preset or .keras file "
            "in detail: its class, inputs and the commands that run it."
        ),
    )
    parser.add_argument("preset", nargs="?", help="a preset name or .keras file to show in detail")
    parser.set_defaults(func=run)


def run(args):
    import keras
    import tensorflow as tf

    from kipoi_genome import __version__
    from kipoi_genome.models import presets

    if args.preset:
        from kipoi_genome.cli.model_checks import commands_for, inspect_model

        found = inspect_model(args.preset)  # reads a .keras file's config only
        runs = ", ".join(commands_for(found)) or "none (not a model kipoi-genome commands run)"
        if args.preset.endswith(".keras"):
            print(f"{args.preset}: {found.describe()}")
            print(f"commands: {runs}")
            return 0
        preset = presets.get_preset(args.preset)
        print(f"{preset.name} ({preset.class_name}): {preset.description}")
        fetched = "downloaded and converted on first use, then cached" if preset.weights_loader else None
        print(f"weights: {preset.weights or fetched or 'random initialisation'}")
        print("config:", json.dumps(preset.config, indent=2, sort_keys=True))
        for key, value in preset.metadata.items():
            print(f"{key}: {value}")
        print(f"commands: {runs}")
        return 0
    print(f"kipoi-genome {__version__} (tensorflow {tf.__version__}, keras {keras.__version__})")
    print("presets:")
    for name in presets.list_presets():
        preset = presets.get_preset(name)
        weights = "shipped weights" if preset.weights else "downloaded" if preset.weights_loader else "random weights"
        print(f"  {name:<28} {preset.class_name:<24} {weights:<16} {preset.description}")
    return 0
