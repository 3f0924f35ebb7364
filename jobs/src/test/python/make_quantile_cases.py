#!/usr/bin/env python3
"""Writes jobs/src/test/resources/clip/quantile_cases.json: numpy's quantiles, kept counts and histogram counts of a
deterministic score column, the golden numbers for ScoreQuantileTest and ScoreHistogramTest.

The column is easy to rebuild bit-exactly in Java (ScoreQuantileTest.score(i)): for i in [0, n),
    z = splitmix64(i)                                  (unsigned 64-bit, wrapping)
    u = ((z & 0xFFFFFF) + ((z >> 24) & 0xFFFFFF)) >> 1  in [0, 2^24), triangular, peak near 2^23
    k = u - 2^22                                       in [-2^22, 3 * 2^22): about 1 in 8 negative
    if (z >> 48) & 1 == 0: k = k & ~0x3FFF             half the rows on a coarse grid: many duplicates
    score = k / 2^25                                   in [-0.125, 0.375), exact in float32 (|k| < 2^24)
The scores are float32 values widened to float64 (as the job's float32 cosines are) and numpy works on the float64
array, as the Java code works in double.

Run with numpy 2.x:  python3 jobs/src/test/python/make_quantile_cases.py   (from the repository root)
"""
import json
import os
import sys

import numpy as np

N = 100_000
QS = [0.0, 0.001, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0]
TOP_FRACTIONS = [0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0, 0.0]
HISTOGRAM_BINS = [200, 64]
M64 = (1 << 64) - 1


def splitmix64(i):
    z = (i * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & M64  # the (i + 1)-th state of splitmix64 seeded with 0
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def score_k(i):
    z = splitmix64(i)
    u = ((z & 0xFFFFFF) + ((z >> 24) & 0xFFFFFF)) >> 1
    k = u - (1 << 22)
    if (z >> 48) & 1 == 0:
        k &= ~0x3FFF
    return k


def q_case(x, q):
    v = float(np.quantile(x, q))  # method='linear', numpy's default
    return {"q": q.hex(), "q_repr": repr(q), "value": v.hex(), "value_repr": repr(v)}


def main():
    ks = np.array([score_k(i) for i in range(N)], dtype=np.int64)
    x32 = (ks.astype(np.float64) / float(1 << 25)).astype(np.float32)
    x = x32.astype(np.float64)
    assert np.array_equal(x, ks / float(1 << 25)), "scores are not exact in float32"
    assert not np.any(np.signbit(x) & (x == 0)), "no -0.0 (numpy's sort does not order -0.0 against 0.0)"

    top = []
    for f in TOP_FRACTIONS:
        q = 1.0 - f
        thr = float(np.quantile(x, q))
        kept = int(np.count_nonzero(x >= thr))
        top.append({"fraction": f.hex(), "fraction_repr": repr(f), "q": q.hex(), "threshold": thr.hex(),
                    "threshold_repr": repr(thr), "kept": kept, "dropped": N - kept})

    histograms = []
    for bins in HISTOGRAM_BINS:
        counts, edges = np.histogram(x, bins=bins, range=(-1.0, 1.0))
        histograms.append({"bins": bins, "counts": [int(c) for c in counts], "edges": [float(e).hex() for e in edges]})

    # small columns: n = 1, n = 2, all equal, duplicates and negatives, an extreme spread
    small_columns = {
        "one": [0.25],
        "two": [0.1, -0.3],
        "all_equal": [0.28125] * 9,
        "dups_negatives": [-0.5, 0.125, -0.5, 0.3, 0.3, 0.3, -0.0625, 0.7, 0.3, -1.0, 1.0],
        "spread": [1e-300, -1e300, 3.0, 1e300, -2.5e-310],
    }
    small_qs = [0.0, 0.001, 0.25, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0]
    small = []
    for name, values in small_columns.items():
        a = np.array(values, dtype=np.float64)
        small.append({"name": name, "values": [float(v).hex() for v in a],
                      "cases": [q_case(a, q) for q in small_qs]})

    out = {
        "generator": "jobs/src/test/python/make_quantile_cases.py",
        "numpy": np.__version__,
        "method": "linear",
        "n": N,
        "column_check": {"sum_k": int(ks.sum()), "negatives": int(np.count_nonzero(x < 0)),
                         "distinct": int(np.unique(x).size), "min": float(x.min()).hex(),
                         "max": float(x.max()).hex()},
        "quantiles": [q_case(x, q) for q in QS],
        "top_fractions": top,
        "histograms": histograms,
        "small": small,
    }
    root = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(root, "..", "resources", "clip", "quantile_cases.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}: n={N}, {out['column_check']}", file=sys.stderr)


if __name__ == "__main__":
    main()
