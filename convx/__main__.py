"""Command line: ``python -m convx {demo,info}``.

    python -m convx demo [NAME ...]   train and check the demos: features, cocktail, digits
                                      (all three when no name is given); exit 0 if all pass
    python -m convx info              print convx.show_config(): version, OpenMP, threads,
                                      compiler, SIMD
"""

import argparse
import os
import sys
import textwrap

DEMO_DESCRIPTION = """\
Train the named demos (all three when none is named), print what each
learned and check it. Exit status 0 if every demo passed its check, 1 if one
did not (digits without scikit-learn is skipped unless named)."""

DEMO_HELP = {
    "features": "hidden kernels (edge detectors, a blur, a colour mix) recovered from "
                "input/output pairs",
    "cocktail": "a 1x1 convolution learns the recipe that mixes 4 ingredients into 3 "
                "cocktails",
    "digits": "a small CNN learns scikit-learn's 8x8 handwritten digits to >= 97% test "
              "accuracy and saves pictures of its kernels (needs the demo extra: "
              "scikit-learn, and matplotlib for the pictures)",
}


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
    from ._demo import DEFAULT_OUT, DEMOS

    parser = argparse.ArgumentParser(
        prog="python -m convx",
        description="convx: fast CPU 2-D convolutions (forward, weight and input gradients) "
                    "for numpy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="watch convolution kernels learn features, on convx's own kernels",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DEMO_DESCRIPTION + "\n\n" + "\n".join(
            textwrap.fill(DEMO_HELP[n], 79, initial_indent="  %-10s" % n,
                          subsequent_indent=" " * 12) for n in DEMOS))
    demo.add_argument("names", nargs="*", metavar="NAME",
                      help="demos to run, from: %s (default: all)" % ", ".join(DEMOS))
    demo.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                      help="directory for the digits pictures (default: ./%(default)s)")
    demo.add_argument("--seed", type=_int_at_least(0), default=0,
                      help="seed of data, initial weights and shuffling (default: 0)")
    demo.add_argument("--threads", type=_int_at_least(1), default=1,
                      help="OpenMP threads per convx call (default: 1; the demo layers are "
                           "tiny, see convx/_demo.py)")
    demo.add_argument("--no-progress", action="store_true",
                      help="no progress bar (it is drawn only on a terminal anyway)")

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
    unknown = [n for n in args.names if n not in _demo.DEMOS]
    if unknown:
        parser.exit(2, "python -m convx demo: error: unknown demo %s; choose from %s\n"
                    % (", ".join(map(repr, unknown)), ", ".join(_demo.DEMOS)))
    try:
        return _demo.run(args.names, out_dir=args.out, seed=args.seed, threads=args.threads,
                         progress=False if args.no_progress else "auto")
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as `cat` would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
