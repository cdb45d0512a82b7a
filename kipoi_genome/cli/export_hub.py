"""`kipoi-genome export-hub`: a model -> TF-Hub SavedModel directory (+ `.tar.gz`)."""

import os

import yaml

RECIPE_KEYS = ("model", "output", "input_length", "model_card", "tar")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export-hub",
        help="export a model as a TF-Hub SavedModel (+ .tar.gz with model card)",
        description=(
            "Export a preset or .keras model as a TF-Hub SavedModel: a callable root, "
            "`.model.predict_on_batch` and a `serving_default` signature, loadable with "
            "hub.load, keras.layers.TFSMLayer and hub.KerasLayer (tf_keras). Enformer "
            "follows the official contract: input [B, 2 x sequence_length, 4] "
            "(393,216 bp), of which the central sequence_length is used."
        ),
    )
    parser.add_argument("--model", help="preset name or .keras file")
    parser.add_argument("--output", help="output SavedModel directory")
    parser.add_argument(
        "--input-length",
        type=int,
        default=None,
        help="exported input length in bp; the centre is cropped to the model's length "
        "(default: twice the model length for Enformer, else the model length)",
    )
    parser.add_argument(
        "--model-card", default=None, help="Markdown card to include; the interface section is appended"
    )
    parser.add_argument("--tar", default=None, help="also write this .tar.gz package")
    parser.add_argument(
        "--recipe",
        default=None,
        help="YAML recipe (hub_export/<model>/export.yaml) with keys "
        f"{', '.join(RECIPE_KEYS)}; command-line options override it; "
        "model_card is relative to the recipe",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run)


def read_recipe(path):
    """The recipe's options as a dict, `model_card` resolved against the recipe folder."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: recipe not found")
    with open(path, encoding="utf-8") as handle:
        recipe = yaml.safe_load(handle) or {}
    if not isinstance(recipe, dict) or set(recipe) - set(RECIPE_KEYS):
        unknown = sorted(set(recipe) - set(RECIPE_KEYS)) if isinstance(recipe, dict) else recipe
        raise ValueError(f"{path}: recipe keys must be among {list(RECIPE_KEYS)}. Received: {unknown}")
    if recipe.get("model_card"):
        recipe["model_card"] = os.path.join(os.path.dirname(os.path.abspath(path)), recipe["model_card"])
    return recipe


def run(args):
    options = read_recipe(args.recipe) if args.recipe else {}
    for key in RECIPE_KEYS:
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    for key in ("model", "output"):
        if not options.get(key):
            raise ValueError(f"--{key} is required (or give it in --recipe). Received: none")
    if options.get("tar") and not str(options["tar"]).endswith(".tar.gz"):
        raise ValueError(f"--tar must end in .tar.gz. Received: {options['tar']!r}")
    card_text = None
    if options.get("model_card"):
        if not os.path.isfile(options["model_card"]):
            raise FileNotFoundError(f"{options['model_card']}: model card not found")
        with open(options["model_card"], encoding="utf-8") as handle:
            card_text = handle.read()
    output = str(options["output"])
    if os.path.isdir(output) and os.listdir(output) and not args.overwrite:
        raise ValueError(f"--output directory is not empty (use --overwrite). Received: {output}")

    from kipoi_genome.cli.model_checks import require_model
    from kipoi_genome.export import export_saved_model, input_spec, render_model_card, write_tarball
    from kipoi_genome.export.saved_model import named_outputs
    from kipoi_genome.models import load_model

    model = load_model(str(options["model"]))
    require_model(model, "export-hub", str(options["model"]))
    input_length = options.get("input_length")
    spec = input_spec(model, input_length)
    card = render_model_card(model, input_length, card=card_text)
    export_saved_model(model, output, input_length, model_card=card, overwrite=args.overwrite)
    outputs = named_outputs(model)
    shapes = ", ".join(f"{k} {[None, *v.shape[1:]]}" for k, v in outputs.items())
    print(f"wrote {output}: SavedModel, input {spec.shape.as_list()} {spec.dtype.name}, outputs {shapes}")
    if options.get("tar"):
        write_tarball(output, options["tar"])
        print(f"wrote {options['tar']}")
    return 0
