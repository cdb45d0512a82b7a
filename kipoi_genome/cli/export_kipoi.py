"""`kipoi-genome export-kipoi`: a model -> Kipoi model directory (`kipoi test DIR --source dir`)."""

import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export-kipoi",
        help="write a Kipoi model directory (model.yaml, dataloader.yaml, examples)",
        description=(
            "Write a Kipoi model directory for a one-hot DNA model (Enformer, or a Keras model "
            "with one [B, L, 4] input): model.yaml with schema, info and dependencies, a BED + "
            "FASTA dataloader, two-line shims naming kipoi-genome classes, tiny example files "
            "and a copy of a .keras --model, named relative to the directory (it can be moved "
            "or shared as it is). The result passes `kipoi test DIR --source dir` and runs with "
            "`kipoi predict DIR --source dir`. LOGO models take k-mer tokens: their Kipoi models "
            "are model_defs/LOGO_promoter and model_defs/LOGO_variant_effect in the repository."
        ),
    )
    parser.add_argument(
        "--model", required=True, help="preset name with shipped weights, or .keras file (copied into --output unless --weights-url)"
    )
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--weights-url",
        default=None,
        help="publish form: the URL the .keras file will be served from; its md5 is "
        "computed from --model and written next to it",
    )
    parser.add_argument(
        "--input-length",
        type=int,
        default=None,
        help="input length in bp, centre-cropped to the model's (default: twice the model "
        "length for Enformer, the TF-Hub contract)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.set_defaults(func=run)


def run(args):
    if os.path.isdir(args.output) and os.listdir(args.output) and not args.overwrite:
        raise ValueError(f"--output directory is not empty (use --overwrite). Received: {args.output}")
    is_file = args.model.endswith(".keras")
    if args.weights_url is not None:
        if not is_file:
            raise ValueError(f"--weights-url needs a .keras --model. Received: --model {args.model!r}")
        if not args.weights_url.startswith(("http://", "https://")):
            raise ValueError(f"--weights-url must be an http(s) URL. Received: {args.weights_url!r}")

    from kipoi_genome.cli.model_checks import inspect_model, require_model
    from kipoi_genome.export.kipoi.spec import md5sum, model_def_hint, write_model_dir
    from kipoi_genome.models import load_model
    from kipoi_genome.models.presets import get_preset

    # LOGO models take tokens, not one-hot DNA: their Kipoi models are committed in model_defs/.
    found = inspect_model(args.model)
    if model_def_hint(found.class_name):
        raise ValueError(
            f"{args.model}: {found.class_name} has no spec rendered by export-kipoi (one-hot DNA models only)"
            + model_def_hint(found.class_name)
        )
    if not is_file and not get_preset(args.model).trained:
        raise ValueError(
            f"Preset {args.model!r} ships no weights (a Kipoi model would be random); "
            "export a .keras file instead. Received: --model " + args.model
        )
    model = load_model(args.model)
    require_model(model, "export-kipoi", args.model)
    if is_file and args.weights_url:
        weights, md5 = args.weights_url, md5sum(args.model)
    elif is_file:  # copied into the directory, named relative to it
        weights, md5 = args.model, None
    else:
        weights, md5 = None, None
    write_model_dir(
        model,
        args.output,
        weights=weights,
        md5=md5,
        preset=None if is_file else args.model,
        input_length=args.input_length,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.output}: test it with `kipoi test {args.output} --source dir`")
    return 0
