"""``python -m convx demo [features|cocktail|digits]``: kernels visibly learning features.

Three demos, each trained on convx's own kernels (every convolution forward, weight
gradient and input gradient is :func:`convx.conv2d`, :func:`convx.conv2d_weight` or
:func:`convx.conv2d_input`), each printing what it learned and checking itself:

``features``
    Hidden kernels (edge detectors and a blur on grey images; a colour-mixing kernel on
    3-channel images) are recovered from input/output pairs by a :class:`convx.nn.Conv2d`
    trained with SGD. Prints true vs learned kernels and the error.
``cocktail``
    The bartender example: four ingredients mixed into three cocktails by a hidden
    recipe. A 1x1 convolution trained with SGD learns the recipe table from observed,
    noisy mixtures.
``digits``
    A small CNN learns scikit-learn's bundled 8x8 handwritten digits (no download) to
    >= 97% test accuracy; prints the confusion matrix and saves pictures of the first
    layer's kernels and of the loss curve (text renderings without matplotlib).

Each demo function returns a :class:`DemoResult`; :func:`run` runs several and gives the
exit status (0 when every demo passed its check).

Threads: the layers here are tiny (batches of 8x8 to 24x24 images), so each convx call
runs for well under a millisecond. With OpenMP's default thread count, every call wakes
and synchronises a team of threads, and when another process holds one of the cores, a
thread that lost its core makes the whole call wait. Measured on two cores, one digits
training step (batch 32): idle, 1.4 ms with 2 threads and 2.1 ms with 1; next to one
busy process, 5.3 ms with 2 threads and still 2.1 ms with 1; while another test suite ran,
15-38 ms against 3.4 ms. The demos therefore default to ``threads=1``; ``--threads``
overrides it. numpy's BLAS (the Linear layer) does not take part: its matrices are below
OpenBLAS's threading threshold, and ``OPENBLAS_NUM_THREADS=1`` changed nothing.
"""

import os
import sys
import textwrap
import time
from dataclasses import dataclass, field

import numpy as np

import convx
from convx import nn, optim
from convx.train import KERNELS, Trainer, make_feature_problem

DEMOS = ("features", "cocktail", "digits")
DEFAULT_OUT = "convx-demo-output"


@dataclass
class DemoResult:
    """Outcome of one demo: whether its check passed, and what it measured."""

    name: str
    ok: bool
    seconds: float                       #: wall time of the whole demo
    message: str = ""
    metrics: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    skipped: bool = False                #: could not run (a missing optional dependency)


class _Printer:
    def __init__(self, file):
        self.file = sys.stdout if file is None else file

    def __call__(self, *args):
        print(*args, file=self.file, flush=True)


def _fmt(v, width=8, prec=4):
    # round(v, prec) + 0.0 turns a tiny negative into 0.0 rather than "-0.0000"
    return "%*.*f" % (width, prec, round(float(v), prec) + 0.0)


def _side_by_side(a, b, title_a="true", title_b="learned"):
    """Two small matrices side by side under their titles, separated by a bar."""
    rows_a = [" ".join(_fmt(v) for v in row) for row in a]
    rows_b = [" ".join(_fmt(v) for v in row) for row in b]
    wa = max(len(title_a), *(len(t) for t in rows_a))
    lines = ["    %s   | %s" % (title_a.center(wa), title_b)]
    lines += ["    %s   | %s" % (ra.rjust(wa), rb) for ra, rb in zip(rows_a, rows_b)]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# features: recover hidden kernels
# --------------------------------------------------------------------------------------

#: Luminance weights of R, G, B (ITU-R BT.601), the colour mix of the colour task.
LUMA = (0.299, 0.587, 0.114)


def _feature_tasks():
    grey = ["sobel_x", "sobel_y", "laplacian", "gaussian_blur"]
    luma = np.array(LUMA)
    colour = np.zeros((2, 3, 3, 3))
    colour[0, :, 1, 1] = luma                                   # RGB -> grey (centre tap)
    colour[1] = luma[:, None, None] * KERNELS["sobel_x"]        # vertical edges of the grey
    return [
        dict(title="edge detectors and a blur on grey images", weight=grey, names=grey,
             channels=["grey"]),
        dict(title="a colour-mixing kernel on RGB images", weight=colour,
             names=["grey (luminance mix)", "sobel_x of the grey"],
             channels=["R", "G", "B"]),
    ]


def features(*, n_images=64, image_size=24, max_epochs=100, tol=1e-10, seed=0, threads=1,
             max_error=1e-3, progress="auto", file=None):
    """Recover hidden 3x3 kernels with a Conv2d layer trained by SGD; see the module doc."""
    say = _Printer(file)
    t_start = time.perf_counter()
    say("== convx demo features: a convolution learns the kernels hidden in input/output "
        "pairs ==")
    say("Random images go through hidden kernels; a Conv2d layer (forward convx.conv2d, "
        "gradient")
    say("convx.conv2d_weight) starts from random weights and is trained on the pairs alone.")
    rng = np.random.default_rng(seed)
    worst, all_converged, train_time = 0.0, True, 0.0
    for i, task in enumerate(_feature_tasks(), 1):
        x, y, w_true, _ = make_feature_problem(task["weight"], n_images=n_images,
                                               image_size=image_size, seed=rng,
                                               dtype=np.float32)
        k, c = w_true.shape[:2]
        model = nn.Conv2d(c, k, 3, bias=False, seed=rng, threads=threads)
        opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
        say()
        say("task %d: %s" % (i, task["title"]))
        say("  data : %d random %dx%d images with %d channel(s) -> targets %s"
            % (n_images, image_size, image_size, c, "x".join(map(str, y.shape))))
        say("  model: %r, MSE loss, SGD(lr=0.2, momentum=0.5), batches of 16" % (model,))
        trainer = Trainer(model, "mse", opt, batch_size=16, max_epochs=max_epochs, tol=tol,
                          n_iter_no_change=5, seed=rng, progress=progress, verbose=5,
                          file=say.file)
        history = _fit_quietly(trainer, x, y)
        train_time += history.elapsed
        all_converged &= history.converged
        learned = model.weight.data
        for j, name in enumerate(task["names"]):
            say("  output %d: %s" % (j, name))
            for ci, cname in enumerate(task["channels"]):
                if c > 1:
                    say("   input channel %s" % cname)
                say(_side_by_side(w_true[j, ci], learned[j, ci]))
            err = float(np.max(np.abs(learned[j] - w_true[j])))
            worst = max(worst, err)
            say("    max |learned - true| = %.2e" % err)
        rel = np.linalg.norm(learned - w_true) / np.linalg.norm(w_true)
        say("  relative error ||learned - true|| / ||true|| = %.2e, %d epochs in %.3f s"
            % (rel, history.n_epochs, history.elapsed))
    ok = all_converged and worst < max_error
    seconds = time.perf_counter() - t_start
    msg = ("every kernel recovered: max error %.2e < %g" % (worst, max_error) if ok else
           "max kernel error %.2e (limit %g), trainers converged: %s"
           % (worst, max_error, all_converged))
    say()
    say("features: %s (training %.2f s, demo %.2f s)" % (msg, train_time, seconds))
    return DemoResult("features", ok, seconds, msg,
                      dict(max_error=worst, train_seconds=train_time, converged=all_converged))


def _fit_quietly(trainer, x, y, **kw):
    """Trainer.fit, with its ConvergenceWarning turned into the demo's own report."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", convx.train.ConvergenceWarning)
        return trainer.fit(x, y, **kw)


# --------------------------------------------------------------------------------------
# cocktail: a 1x1 convolution learns a recipe table
# --------------------------------------------------------------------------------------

INGREDIENTS = ("gin", "liqueur", "lemon juice", "cola")
COCKTAILS = ("White Lady", "Long Island", "Gin Sour")
#: Parts of each ingredient (columns) in each cocktail (rows); every row sums to 1.
RECIPE = np.array([[0.50, 0.25, 0.25, 0.00],
                   [0.25, 0.20, 0.15, 0.40],
                   [0.60, 0.10, 0.30, 0.00]])


def _recipe_table(learned, true=None):
    """The recipe as a table: a row per cocktail, a column per ingredient, and the total."""
    cells = [["%.3f" % (round(float(learned[i, j]), 3) + 0.0)
              + ("" if true is None else " (%.2f)" % true[i, j])
              for j in range(len(INGREDIENTS))] for i in range(len(COCKTAILS))]
    widths = [max(len(name), *(len(row[j]) for row in cells)) + 3
              for j, name in enumerate(INGREDIENTS)]
    name_w = max(len(n) for n in COCKTAILS)
    lines = ["  " + " " * name_w + "".join(n.rjust(w) for n, w in zip(INGREDIENTS, widths))
             + "    total"]
    for i, cocktail in enumerate(COCKTAILS):
        lines.append("  " + cocktail.ljust(name_w)
                     + "".join(c.rjust(w) for c, w in zip(cells[i], widths))
                     + "%9.3f" % (round(float(learned[i].sum()), 3) + 0.0))
    return "\n".join(lines)


def cocktail(*, n_trays=64, tray_size=12, noise=0.01, max_epochs=300, seed=0, threads=1,
             max_error=0.01, progress="auto", file=None):
    """Learn the hidden recipe with a 1x1 Conv2d trained by SGD; see the module docstring."""
    say = _Printer(file)
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    say("== convx demo cocktail: a 1x1 convolution learns the bartender's recipe ==")
    say(textwrap.fill(
        "Four ingredients (%s) are mixed into three cocktails (%s) by a hidden recipe. "
        "Every sample is a %dx%d tray of tastings: at each spot the 4 input channels say how "
        "strongly each ingredient tastes (it varies from bottle to bottle) and the 3 output "
        "channels how strongly each cocktail poured from those bottles tastes, measured "
        "with noise %g. A cocktail is a recipe-weighted mix of its ingredients at every "
        "spot, which is exactly a 1x1 convolution:"
        % (", ".join(INGREDIENTS), ", ".join(COCKTAILS), tray_size, tray_size, noise), 88))
    say("    cocktail[k] = sum_i recipe[k, i] * ingredient[i],   weight[k, i, 0, 0] = "
        "recipe[k, i]")
    x = rng.uniform(0.0, 1.0, (n_trays, len(INGREDIENTS), tray_size, tray_size)).astype(
        np.float32)
    hidden = RECIPE.astype(np.float32)[:, :, None, None]
    y = convx.conv2d(x, hidden, threads=threads)
    y += (noise * rng.standard_normal(y.shape)).astype(np.float32)
    model = nn.Conv2d(len(INGREDIENTS), len(COCKTAILS), 1, bias=False, seed=rng,
                      threads=threads)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.5)
    say()
    say("  data : %d trays of %dx%d -> %s mixtures, 20%% held out for validation"
        % (n_trays, tray_size, tray_size, "x".join(map(str, y.shape))))
    say("  model: %r, MSE loss, SGD(lr=0.5, momentum=0.5), batches of 16" % (model,))
    say("  starting guess:")
    say(_recipe_table(model.weight.data[:, :, 0, 0]))
    trainer = Trainer(model, "mse", opt, batch_size=16, max_epochs=max_epochs, tol=1e-7,
                      n_iter_no_change=10, validation_split=0.2, seed=rng, progress=progress,
                      verbose=10, file=say.file)
    history = _fit_quietly(trainer, x, y)
    learned = model.weight.data[:, :, 0, 0]
    err = float(np.max(np.abs(learned - RECIPE)))
    say()
    say("the recipe it learned (true recipe in brackets), parts per cocktail:")
    say(_recipe_table(learned, RECIPE))
    say("  max |learned - true| = %.2e; validation loss %.3e (the noise alone gives %.1e)"
        % (err, history["val_loss"][-1], noise ** 2))
    ok = history.converged and err < max_error
    seconds = time.perf_counter() - t_start
    msg = ("recipe recovered: max error %.2e < %g" % (err, max_error) if ok else
           "recipe error %.2e (limit %g), converged: %s" % (err, max_error, history.converged))
    say()
    say("cocktail: %s (training %.2f s, %d epochs; demo %.2f s)"
        % (msg, history.elapsed, history.n_epochs, seconds))
    return DemoResult("cocktail", ok, seconds, msg,
                      dict(max_error=err, train_seconds=history.elapsed,
                           converged=history.converged, recipe=learned.copy()))


# --------------------------------------------------------------------------------------
# digits: a small CNN on scikit-learn's handwritten digits
# --------------------------------------------------------------------------------------

def digits_model(seed=0, threads=1):
    """The digits CNN: two 3x3 conv + ReLU + 2x2 max-pool stages and a linear classifier."""
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, seed=rng, threads=threads), nn.ReLU(),
        nn.MaxPool2d(2),                                               # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1, seed=rng, threads=threads), nn.ReLU(),
        nn.MaxPool2d(2),                                               # 32 x 2 x 2
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, seed=rng))


def shift_augment(x, rng, max_shift=1):
    """Move each image by up to ``max_shift`` pixels in each direction (zero fill)."""
    n, _, h, w = x.shape
    m = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
    dy = rng.integers(0, 2 * m + 1, n)
    dx = rng.integers(0, 2 * m + 1, n)
    out = np.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    return out


def _confusion(truth, pred, k=10):
    return np.bincount(truth * k + pred, minlength=k * k).reshape(k, k)


def _confusion_text(cm):
    lines = ["  confusion matrix (rows: true digit, columns: predicted)",
             "       " + "".join("%4d" % j for j in range(cm.shape[1]))]
    for i, row in enumerate(cm):
        lines.append("    %d |" % i + "".join(("%4d" % v) if v else "   ." for v in row))
    return "\n".join(lines)


def digits(*, max_epochs=100, augment=True, test_size=0.2, seed=0, threads=1,
           min_accuracy=0.97, out_dir=DEFAULT_OUT, png=None, progress="auto", file=None):
    """Train the digits CNN; see the module docstring.

    ``out_dir=None`` saves no pictures; ``png=None`` saves PNGs when matplotlib is
    installed and prints text renderings otherwise (``png=False`` forces the text).
    """
    say = _Printer(file)
    t_start = time.perf_counter()
    say("== convx demo digits: a small CNN learns handwritten digits ==")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        msg = ("the digits demo needs scikit-learn (its bundled 8x8 digits): "
               "pip install \"convx[demo]\" (or \".[demo]\" in a checkout)")
        say("digits: " + msg)
        return DemoResult("digits", False, time.perf_counter() - t_start, msg, skipped=True)

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]              # (1797, 1, 8, 8)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    model = digits_model(rng, threads)
    opt = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-3)
    say("scikit-learn's bundled digits: %d grey 8x8 images of 0-9; %d to train on (15%% of "
        "them held" % (len(x), len(x_train)))
    say("out for validation), %d to test. Every convolution, forward and both gradients, "
        "is convx's." % len(x_test))
    say("model:")
    say("  " + repr(model).replace("\n", "\n  "))
    say("training: cross-entropy, Adam(lr=3e-3, weight_decay=1e-3), batches of 32%s,"
        % (", random 1-pixel shifts" if augment else ""))
    say("  stop when the validation loss has not improved by 1e-4 for 10 epochs (at most %d), "
        "keep the best" % max_epochs)
    trainer = Trainer(model, "cross_entropy", opt, batch_size=32, max_epochs=max_epochs,
                      tol=1e-4, n_iter_no_change=10, validation_split=0.15,
                      augment=shift_augment if augment else None, seed=rng,
                      progress=progress, verbose=5, file=say.file)
    history = _fit_quietly(trainer, x_train, y_train)
    pred = trainer.predict(x_test).argmax(axis=1)
    acc = float(np.mean(pred == y_test))
    cm = _confusion(y_test, pred)
    say()
    say("test accuracy: %.2f%% (%d of %d test digits right)"
        % (100 * acc, int(np.sum(pred == y_test)), len(y_test)))
    say("training time: %.2f s for %d epochs (%.0f ms per epoch of %d images)"
        % (history.elapsed, history.n_epochs, 1e3 * history.elapsed / history.n_epochs,
           len(x_train) - int(np.ceil(0.15 * len(x_train)))))
    say(_confusion_text(cm))

    files = []
    kernels = model[0].weight.data[:, 0]                                # (16, 3, 3)
    sample = x_test[0]
    maps = model[1](model[0](sample[None]))[0]                         # ReLU(conv1(digit))
    if out_dir is not None:
        use_png = png if png is not None else _have_matplotlib()
        if use_png:
            os.makedirs(out_dir, exist_ok=True)
            files.append(_plot_kernels(os.path.join(out_dir, "digits_kernels.png"), kernels,
                                       sample[0], maps, int(y_test[0])))
            files.append(_plot_history(os.path.join(out_dir, "digits_loss.png"), history,
                                       acc))
            say()
            for f in files:
                say("saved %s" % os.path.abspath(f))
        else:
            say()
            say("(%s: text renderings instead of PNGs)"
                % ("asked for text" if png is False else "matplotlib is not installed"))
            say(_text_kernels(kernels))
            say(_text_curve(history))
    ok = history.converged and acc >= min_accuracy
    seconds = time.perf_counter() - t_start
    msg = ("test accuracy %.2f%% >= %.0f%%" % (100 * acc, 100 * min_accuracy) if ok else
           "test accuracy %.2f%% (needs %.0f%%), converged: %s"
           % (100 * acc, 100 * min_accuracy, history.converged))
    say()
    say("digits: %s (training %.2f s, demo %.2f s)" % (msg, history.elapsed, seconds))
    return DemoResult("digits", ok, seconds, msg,
                      dict(accuracy=acc, confusion=cm, train_seconds=history.elapsed,
                           epochs=history.n_epochs, converged=history.converged),
                      files)


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plot_kernels(path, kernels, digit, maps, label):
    """First-layer kernels (diverging colours) above their responses to one test digit."""
    from matplotlib.figure import Figure

    n = len(kernels)
    cols = 8
    blocks = -(-n // cols)
    fig = Figure(figsize=(11, 2.9 * blocks + 0.6), layout="constrained")
    grid = fig.add_gridspec(2 * blocks, cols + 1, width_ratios=[1.6] + [1] * cols)
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(digit, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title("input: a test\n'%d'" % label, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    lim = float(np.max(np.abs(kernels)))
    mlim = float(np.max(maps)) or 1.0
    for i in range(n):
        b, col = divmod(i, cols)
        ak = fig.add_subplot(grid[2 * b, col + 1])
        im = ak.imshow(kernels[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ak.set_title("kernel %d" % i, fontsize=9)
        am = fig.add_subplot(grid[2 * b + 1, col + 1])
        am.imshow(maps[i], cmap="magma", vmin=0, vmax=mlim)
        for a in (ak, am):
            a.set_xticks([])
            a.set_yticks([])
    fig.colorbar(im, ax=fig.axes[1:], shrink=0.6, label="kernel weight")
    fig.suptitle("convx digits demo: the first layer's 16 learned 3x3 kernels (red +, blue -) "
                 "and, below each, its ReLU response to the input digit")
    fig.savefig(path, dpi=110)
    return path


def _plot_history(path, history, test_acc):
    from matplotlib.figure import Figure

    epochs = np.arange(1, history.n_epochs + 1)
    fig = Figure(figsize=(10, 4), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    a1.semilogy(epochs, history["loss"], label="training loss")
    a1.semilogy(epochs, history["val_loss"], label="validation loss")
    a1.axvline(history.best_epoch, color="gray", ls=":", label="best epoch (kept)")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy")
    a1.legend()
    a2.plot(epochs, 100 * history["accuracy"], label="training")
    a2.plot(epochs, 100 * history["val_accuracy"], label="validation")
    a2.axhline(100 * test_acc, color="k", ls="--", label="test, final: %.1f%%"
               % (100 * test_acc))
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy [%]")
    # Zoom on the interesting part: the first epochs' low accuracies are off the bottom.
    low = min(np.percentile(history["val_accuracy"], 10), test_acc)
    a2.set_ylim(max(0.0, 100 * low - 5), 100.5)
    a2.legend(loc="lower right")
    fig.suptitle("convx digits demo: training %.1f s on convx's kernels" % history.elapsed)
    fig.savefig(path, dpi=110)
    return path


def _text_kernels(kernels):
    lines = ["first-layer kernels (3x3 each, weights x 100):"]
    for start in range(0, len(kernels), 8):
        group = kernels[start:start + 8]
        lines.append(("  " + "".join(("kernel %d" % (start + i)).ljust(16)
                                     for i in range(len(group)))).rstrip())
        for r in range(group.shape[1]):
            lines.append(("  " + "".join(" ".join("%4d" % round(100 * v) for v in k[r]).ljust(16)
                                         for k in group)).rstrip())
        lines.append("")
    return "\n".join(lines)


def _text_curve(history, width=60, height=10):
    """Training and validation loss against epoch, log scale, as characters."""
    tr, va = np.log10(history["loss"]), np.log10(history["val_loss"])
    lo, hi = min(tr.min(), va.min()), max(tr.max(), va.max())
    n = len(tr)
    grid = [[" "] * width for _ in range(height)]
    for series, ch in ((va, "v"), (tr, "t")):
        for i, v in enumerate(series):
            col = int(i * (width - 1) / max(n - 1, 1))
            row = int(round((hi - v) / max(hi - lo, 1e-12) * (height - 1)))
            grid[row][col] = ch
    lines = ["loss curve (log scale; t = training, v = validation):"]
    for r, row in enumerate(grid):
        label = 10 ** (hi - r * (hi - lo) / (height - 1))
        lines.append(("  %9.3g |%s" % (label, "".join(row))).rstrip())
    lines.append("  %9s +%s" % ("", "-" * width))
    lines.append("  %9s  epoch 1%sepoch %d" % ("", " " * (width - 14 - len(str(n))), n))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Running demos
# --------------------------------------------------------------------------------------

def run(names=None, *, out_dir=DEFAULT_OUT, seed=0, threads=1, progress="auto", file=None):
    """Run the named demos (all three by default); return 0 if every one passed, else 1.

    A demo that cannot run for want of an optional dependency (digits without
    scikit-learn) is reported as skipped; it fails the run only when it was named.
    """
    named = bool(names)
    names = list(DEMOS) if not names else list(dict.fromkeys(names))
    for n in names:
        if n not in DEMOS:
            raise ValueError("unknown demo %r: choose from %s" % (n, ", ".join(DEMOS)))
    say = _Printer(file)
    say("convx %s: %s; OpenMP threads per convx call: %s"
        % (convx.__version__, ", ".join(names), threads if threads else "default"))
    results = []
    for n in names:
        say()
        kw = dict(seed=seed, threads=threads, progress=progress, file=say.file)
        if n == "digits":
            kw["out_dir"] = out_dir
        results.append(globals()[n](**kw))
    say()
    for r in results:
        status = "PASS" if r.ok else "SKIP" if r.skipped and not named else "FAIL"
        say("RESULT %-9s %s  %6.2f s  %s" % (r.name, status, r.seconds, r.message))
    return 0 if all(r.ok or (r.skipped and not named) for r in results) else 1
