"""Command line: ``python -m convx {demo,info}``.

    python -m convx demo     learn a hidden edge detector with convx's kernels (exit 0 if converged)
    python -m convx info     print convx.show_config(): version, OpenMP, threads, compiler, SIMD
"""

import argparse
import sys


def _lr(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive number or 'auto', got %r"
                                         % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError("expected a positive number or 'auto', got %r" % text)
    return value


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer, got %r" % text) from None
        if value < minimum:
            raise argparse.ArgumentTypeError("expected an integer >= %d, got %d"
                                             % (minimum, value))
        return value
    return parse


def build_parser():
    from ._demo import DEFAULTS
    from .train import KERNELS

    parser = argparse.ArgumentParser(
        prog="python -m convx",
        description="convx: fast CPU 2-D convolutions (forward, weight and input gradients) "
                    "for numpy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="learn a hidden edge detector by gradient descent with convx's kernels",
        description="Make random images, convolve them with hidden kernels (default: Sobel x "
                    "and y), then learn the kernels back from images and targets with "
                    "convx.train.fit_kernel. Prints the loss, the learned and true kernels "
                    "and the relative error. Exit status 0 if training converged, else 1.")
    demo.add_argument("--kernels", default=",".join(DEFAULTS["kernels"]),
                      help="comma-separated hidden kernels, one output channel each, from: "
                           "%s (default: %%(default)s)" % ", ".join(KERNELS))
    demo.add_argument("--images", type=_int_at_least(1), default=DEFAULTS["n_images"],
                      help="number of random images (default: %(default)s)")
    demo.add_argument("--size", type=_int_at_least(1), default=DEFAULTS["image_size"],
                      help="image height and width (default: %(default)s)")
    demo.add_argument("--noise", type=float, default=DEFAULTS["noise"],
                      help="std. dev. of noise added to the targets (default: %(default)s)")
    demo.add_argument("--bias", action="store_true", help="add a hidden bias and learn it too")
    demo.add_argument("--stride", type=_int_at_least(1), default=DEFAULTS["stride"])
    demo.add_argument("--padding", type=_int_at_least(0), default=DEFAULTS["padding"])
    demo.add_argument("--lr", type=_lr, default=DEFAULTS["lr"],
                      help="learning rate or 'auto' (1 / largest curvature; default)")
    demo.add_argument("--momentum", type=float, default=DEFAULTS["momentum"],
                      help="heavy-ball momentum in [0, 1) (default: %(default)s)")
    demo.add_argument("--tol", type=float, default=DEFAULTS["tol"],
                      help="stop when the loss is below this (default: 1e-12 in float64, "
                           "1e-8 in float32)")
    demo.add_argument("--max-iter", type=_int_at_least(0), default=DEFAULTS["max_iter"],
                      help="most iterations (default: %(default)s)")
    demo.add_argument("--dtype", choices=("float64", "float32"), default=DEFAULTS["dtype"])
    demo.add_argument("--algorithm", choices=("auto", "direct", "im2col"),
                      default=DEFAULTS["algorithm"])
    demo.add_argument("--threads", type=_int_at_least(1), default=DEFAULTS["threads"],
                      help="threads for convx (default: OpenMP default)")
    demo.add_argument("--seed", type=_int_at_least(0), default=DEFAULTS["seed"])
    demo.add_argument("--every", type=_int_at_least(1), default=DEFAULTS["every"],
                      help="print the loss every this many iterations (default: %(default)s)")

    sub.add_parser("info", help="print convx's build and runtime configuration",
                   description="Print convx.show_config(): version, OpenMP, default threads, "
                               "compiler and SIMD level.")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "info":
        import convx
        convx.show_config()
        return 0
    from . import _demo
    try:
        return _demo.run(kernels=[k.strip() for k in args.kernels.split(",") if k.strip()],
                         n_images=args.images, image_size=args.size, noise=args.noise,
                         bias=args.bias, stride=args.stride, padding=args.padding, lr=args.lr,
                         momentum=args.momentum, tol=args.tol, max_iter=args.max_iter,
                         dtype=args.dtype, algorithm=args.algorithm, threads=args.threads,
                         seed=args.seed, every=args.every)
    except (TypeError, ValueError) as exc:
        parser.exit(2, "python -m convx demo: error: %s\n" % exc)


if __name__ == "__main__":
    sys.exit(main())
