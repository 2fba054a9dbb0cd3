"""``python -m convx demo``: learn a hidden edge detector with convx's own kernels.

Random images go through a hidden kernel (by default the Sobel x and y filters, two output
channels) to make targets; :func:`convx.train.fit_kernel` then learns the kernel back
from the images and targets alone, printing the loss as it goes, and the demo prints the
learned kernel next to the true one.
"""

import sys
import time

import numpy as np

import convx
from convx import train

DEFAULTS = dict(kernels=("sobel_x", "sobel_y"), n_images=32, image_size=32, noise=0.0,
                bias=False, stride=1, padding=0, lr="auto", momentum=0.9, tol=None,
                max_iter=2000, dtype="float64", algorithm="auto", threads=None, seed=0,
                every=25)


def run(kernels=DEFAULTS["kernels"], n_images=DEFAULTS["n_images"],
        image_size=DEFAULTS["image_size"], noise=DEFAULTS["noise"], bias=DEFAULTS["bias"],
        stride=DEFAULTS["stride"], padding=DEFAULTS["padding"], lr=DEFAULTS["lr"],
        momentum=DEFAULTS["momentum"], tol=DEFAULTS["tol"], max_iter=DEFAULTS["max_iter"],
        dtype=DEFAULTS["dtype"], algorithm=DEFAULTS["algorithm"], threads=DEFAULTS["threads"],
        seed=DEFAULTS["seed"], every=DEFAULTS["every"], file=None):
    """Run the demo, printing to ``file`` (default stdout); return 0 if training converged, else 1.

    ``kernels`` are names from :data:`convx.train.KERNELS`, one output channel each.
    """
    out = sys.stdout if file is None else file

    def say(*args):
        print(*args, file=out, flush=True)

    kernels = list(kernels)
    rng = np.random.default_rng(seed)
    hidden_bias = np.round(rng.uniform(-1, 1, len(kernels)), 2) if bias else None
    problem = train.make_feature_problem(kernels, n_images=n_images, image_size=image_size,
                                         bias=hidden_bias, stride=stride, padding=padding,
                                         noise=noise, seed=rng, dtype=dtype)
    x, y, w_true, b_true = problem
    r, s = w_true.shape[2:]

    say("convx %s demo: recover a hidden convolution kernel by gradient descent" %
        convx.__version__)
    say("  hidden kernel : %s -> %d output channel(s), %dx%d, 1 input channel%s"
        % (", ".join(kernels), len(kernels), r, s,
           ", bias %s" % np.array2string(b_true, precision=2) if bias else ""))
    say("  data          : %d random %dx%d images (standard normal), targets = "
        "conv2d(images, hidden)%s" % (x.shape[0], x.shape[2], x.shape[3],
                                       " + noise %g" % noise if noise else ""))
    say("                  stride %s, padding %s -> targets %s" % (stride, padding,
                                                                   "x".join(map(str, y.shape))))
    say("  training      : MSE loss, SGD momentum %g, lr %s, %s" % (momentum, lr,
                                                                   np.dtype(dtype).name))
    say("                  forward convx.conv2d, gradient convx.conv2d_weight "
        "(algorithm %s, threads %s)" % (algorithm, threads if threads is not None else "default"))
    say()
    say("  %6s  %14s  %9s" % ("iter", "loss", "time [s]"))

    t0 = time.perf_counter()

    def report(info):
        if info.iteration % every == 0:
            say("  %6d  %14.6e  %9.3f" % (info.iteration, info.loss, time.perf_counter() - t0))

    result = train.fit_kernel(x, y, (r, s), bias=bias, stride=stride, padding=padding,
                              lr=lr, momentum=momentum, tol=tol, max_iter=max_iter, seed=seed,
                              dtype=dtype, algorithm=algorithm, threads=threads,
                              callback=report)
    elapsed = time.perf_counter() - t0
    if result.n_iter % every:
        say("  %6d  %14.6e  %9.3f" % (result.n_iter, result.loss, elapsed))
    say()

    for k, name in enumerate(kernels):
        say("output channel %d: %s" % (k, name))
        say(_side_by_side(w_true[k, 0], result.weight[k, 0], "true", "learned"))
        line = "  max |learned - true| = %.2e" % np.max(np.abs(result.weight[k] - w_true[k]))
        if bias:
            line += "    bias: true %+.4f, learned %+.4f" % (b_true[k], result.bias[k])
        say(line)
        say()

    true_params = _flat(w_true, b_true)
    rel_err = np.linalg.norm(_flat(result.weight, result.bias) - true_params) / \
        np.linalg.norm(true_params)
    say("relative error ||learned - true|| / ||true|| = %.3e" % rel_err)
    say("learning rate %.4g (%s), %d iterations in %.3f s (%.2f ms/iteration)"
        % (result.lr, "auto: 1 / largest curvature" if lr == "auto" else "given",
           result.n_iter, elapsed, 1e3 * elapsed / max(result.n_iter, 1)))
    say(result.message)
    say("RESULT: %s" % ("CONVERGED" if result.converged else "NOT CONVERGED"))
    return 0 if result.converged else 1


def _flat(w, b):
    return np.concatenate([w.ravel()] + ([] if b is None else [b.ravel()])).astype(np.float64)


def _side_by_side(a, b, title_a, title_b, fmt="%8.4f"):
    """Two small matrices side by side, under their titles, separated by a bar."""
    # round(v, 4) + 0.0 turns a tiny negative into 0.0 rather than "-0.0000"
    rows_a = [" ".join(fmt % (round(float(v), 4) + 0.0) for v in row) for row in a]
    rows_b = [" ".join(fmt % (round(float(v), 4) + 0.0) for v in row) for row in b]
    wa = max(len(title_a), *(len(t) for t in rows_a))
    lines = ["  %s   | %s" % (title_a.center(wa), title_b)]
    lines += ["  %s   | %s" % (ra.rjust(wa), rb) for ra, rb in zip(rows_a, rows_b)]
    return "\n".join(lines)
