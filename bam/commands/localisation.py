"""``python -m bam.localisation``: lesson 07's localisation table for a trained BAM-ResNet (a
shipped one, or a ``bam.train`` checkpoint), beside the same network untrained; the measures
are ``bam.localisation``'s."""

from __future__ import annotations

import bam.pretrained
from bam import cli
from bam.checkpoint import CheckpointError, checkpoint_paths, load_tensors
from bam.data import load
from bam.localisation import Row, compare, format_table
from bam.maps import SPATIAL_KINDS, collect
from bam.models import INITS, available, create
from bam.runtime import seed_everything

PROG = "python -m bam.localisation"


def main(argv: list[str] | None = None) -> list[Row]:
    """Measure a trained network (a checkpoint, else a shipped one) against the same model
    untrained and the baselines."""
    parser = cli.Parser(
        prog=PROG,
        description="Localisation of BAM's maps on Shapes test images (see the module docs).",
    )
    parser.add_argument("--checkpoint", help="a bam.train run folder or .pt file")
    parser.add_argument(
        "--pretrained",
        default="shapes-bam_resnet20-s0",
        help="without --checkpoint: a network that ships (python -m bam.pretrained lists them)",
    )
    parser.add_argument("--model", default="bam_resnet20", help="the name it was created with")
    parser.add_argument(
        "--init",
        choices=INITS,
        default="default",
        help="with --checkpoint: how its BAMs started (create's init), for the untrained reference",
    )
    parser.add_argument(
        "--images", type=cli.positive_int, default=2000, help="Shapes test images to use"
    )
    parser.add_argument("--kind", choices=SPATIAL_KINDS, default="attention")
    parser.add_argument(
        "--tolerance", type=cli.non_negative_int, default=1, help="pointing tolerance in pixels"
    )
    parser.add_argument(
        "--border", type=cli.positive_int, default=2, help="frame width at map resolution"
    )
    parser.add_argument(
        "--seed", type=cli.non_negative_int, default=0, help="of the untrained model and noise"
    )
    args = parser.parse_args(argv)
    if args.model not in available():
        parser.error(f"unknown model {args.model!r}; choose one of {', '.join(available())}")

    test = load("shapes", "test", size=args.images)
    if args.checkpoint is None:
        try:
            trained = bam.pretrained.load(args.pretrained, device="cpu")
        except (ValueError, bam.pretrained.ArtifactError) as error:
            parser.error(str(error))
        made = bam.pretrained.info(args.pretrained)
        args.model, init = made["model"], made.get("init", "default")
    else:
        path = checkpoint_paths(args.checkpoint)[0]
        if not path.exists():
            parser.error(f"no checkpoint at {path}; train one with python -m bam.train first")
        print(f"checkpoint: {path}")
        trained = create(args.model, num_classes=test.num_classes)
        state = load_tensors(path)
        if not isinstance(state, dict) or "model" not in state:
            raise CheckpointError(f"{path} holds no model state: pass a bam.train run folder")
        trained.load_state_dict(state["model"])
        init = args.init
    seed_everything(args.seed)
    # The same network before training: started as the identity, if the trained one was.
    untrained = create(args.model, num_classes=test.num_classes, init=init)
    images = test.normalize(test.images)
    for name, model in (("trained", trained), ("untrained", untrained)):
        preds, _ = collect(model, images)
        accuracy = (preds == test.labels).float().mean().item()
        print(f"{name}: accuracy {accuracy:.1%} on {len(test)} Shapes test images")
    models = {"trained": trained, "untrained": untrained}
    rows = compare(models, images, test.masks, args.kind, args.tolerance, args.border, args.seed)
    print(f"maps: {args.kind}; pointing tolerance {args.tolerance} px; border {args.border} px")
    print(format_table(rows, test.masks, args.tolerance))
    return rows
