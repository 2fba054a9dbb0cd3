"""Data-parallel training on Dask: learn the hidden ``features`` kernel on many workers.

The ``features`` task of :mod:`convx.train` (random images, targets made by hidden
classic filters, here Sobel x and y) at a size that would not fit one machine: the
images and targets live in chunks of images on the Dask workers, and each gradient
step runs where the data is.

* forward: ``convx.dask.conv2d`` on each chunk of images (``map_blocks``);
* residual and loss: elementwise on the same chunks, the loss a Dask reduction;
* gradient: ``convx.dask.conv2d_weight`` on each chunk, partial gradients summed
  by Dask's tree reduction.

Only the weight (2 x 1 x 3 x 3 here) and the loss travel between the client and
the workers. The learning rate is ``1 / L``, with ``L`` the largest curvature of
the loss measured by power iteration on the same data-parallel operations (the
loss is quadratic, so its Hessian-vector product is
``(2 / y.size) * conv2d_weight(x, w.shape, conv2d(x, v))``).

Run::

    python examples/dask_train_features.py                      # 2 workers, 64 images
    python examples/dask_train_features.py --images 4096 --chunk 256 --workers 4 --threads 4

``--threads`` is convx's OpenMP threads per task; each worker runs one Dask
thread, so a worker convolves one chunk at a time with one OpenMP pool.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import dask
import dask.array as da

import convx.dask as cxd
from convx.train import KERNELS


def make_data(n_images, chunk, size, kernels=("sobel_x", "sobel_y"), seed=0):
    """Images (N, 1, size, size) chunked along N, and targets conv2d(images, hidden kernels).

    Both are lazy: each worker makes and convolves its own chunks, nothing large
    passes through the client. Returns (x, y, hidden weight).
    """
    w_true = np.stack([KERNELS[k] for k in kernels])[:, None]        # (K, 1, 3, 3)
    x = da.random.default_rng(seed).standard_normal((n_images, 1, size, size),
                                                    chunks=(chunk, 1, size, size))
    y = cxd.conv2d(x, w_true)
    return x, y, w_true


def fit_kernel_dask(x, y, weight_shape, *, max_iter=100, tol=1e-12, n_power_iter=10,
                    threads=None, seed=0, compute=dask.compute, verbose=True):
    """Gradient descent on ``mean((conv2d(x, w) - y) ** 2)`` with data-parallel steps.

    ``x`` and ``y`` are Dask arrays chunked alike along N (persist them first);
    ``compute`` is how a step's graph is run (``dask.compute``, or a client's).
    Returns (weight, loss history).
    """
    scale = 2.0 / np.prod(y.shape)
    kw = dict(threads=threads)

    def hvp(v):  # Hessian-vector product, exact for least squares
        return cxd.conv2d_weight(x, v.shape, cxd.conv2d(x, v, **kw) * scale, **kw)

    rng = np.random.default_rng(seed)
    v = rng.standard_normal(weight_shape)
    curvature = 0.0
    for _ in range(n_power_iter):
        v /= np.linalg.norm(v)
        (v,) = compute(hvp(v))
        curvature = np.linalg.norm(v)
    lr = 1.0 / curvature

    bound = 1.0 / np.sqrt(np.prod(weight_shape[1:]))
    w = rng.uniform(-bound, bound, weight_shape)
    history = []
    for it in range(max_iter + 1):
        r = cxd.conv2d(x, w, **kw) - y                       # per chunk, on the workers
        loss = (r ** 2).mean()
        grad = cxd.conv2d_weight(x, w.shape, r * scale, **kw)  # tree-summed partials
        loss, grad = compute(loss, grad)
        history.append(float(loss))
        if verbose:
            print(f"  iter {it:4d}  loss {loss:.6e}", flush=True)
        if loss < tol or it == max_iter:
            break
        w = w - lr * grad
    return w, history


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=64, help="number of images (64)")
    p.add_argument("--chunk", type=int, default=16, help="images per chunk (16)")
    p.add_argument("--size", type=int, default=32, help="image height and width (32)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (2)")
    p.add_argument("--threads", type=int, default=1,
                   help="convx threads per task; one Dask thread per worker (1)")
    p.add_argument("--max-iter", type=int, default=100)
    args = p.parse_args(argv)

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        x, y, w_true = make_data(args.images, args.chunk, args.size)
        x, y = client.persist([x, y])        # the data stays on the workers
        print(f"{args.images} images {args.size}x{args.size} in {x.numblocks[0]} chunks on "
              f"{args.workers} workers; learning a {w_true.shape} kernel")
        t0 = time.perf_counter()
        w, history = fit_kernel_dask(x, y, w_true.shape, max_iter=args.max_iter,
                                     threads=args.threads)
        elapsed = time.perf_counter() - t0
    err = np.abs(w - w_true).max()
    print(f"{len(history) - 1} steps in {elapsed:.2f} s, final loss {history[-1]:.3e}, "
          f"max |w - w_true| = {err:.2e}")
    print("learned kernel (rounded):")
    print(np.round(w[:, 0], 4))
    return 0 if err < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
