"""Fashion-MNIST loader shared by the Python reference benchmarks.

Reads the four IDX files (gzip) from a directory, returns float32 pixels
scaled to [0, 1] (shape N x 784) and int64 labels. No framework imports.
"""
import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def _read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    got, = struct.unpack(">I", raw[:4])
    if got != magic:
        raise ValueError(f"{path}: bad IDX magic {got:#010x}")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def load(directory=DEFAULT_DIR):
    """Returns (x_train, y_train, x_test, y_test)."""
    out = []
    for prefix in ("train", "t10k"):
        img = _read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), 0x803)
        lab = _read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), 0x801)
        x = img.reshape(img.shape[0], -1).astype(np.float32) / np.float32(255.0)
        out += [x, lab.astype(np.int64)]
    return tuple(out)


def summarize(seconds):
    """Median / min / max of per-epoch seconds over the epochs after the first
    (all epochs when there is only one)."""
    s = list(seconds[1:]) if len(seconds) > 1 else list(seconds)
    return {
        "median_epoch_seconds": float(np.median(s)),
        "min_epoch_seconds": float(min(s)),
        "max_epoch_seconds": float(max(s)),
    }


def peak_rss_kb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
