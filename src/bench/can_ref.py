"""Reference for `npm run bench -- can`: the note's direct CAN loop in NumPy (float64).

Usage: can_ref.py PROBS.npy PRIOR.npy TOPK THRESHOLD ALPHA ITERS SAMPLE OUT.npy
Times the loop on SAMPLE evenly spaced uncertain rows, writes their adjusted rows to OUT.npy and prints
JSON {uncertain, sampled, seconds, rows}.
"""
import json
import sys
import time

import numpy as np


def uncertainty(p, topk):
    top = -np.sort(-p, axis=1)[:, :topk]
    top = top / top.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(top > 0, top * np.log(top), 0.0).sum(axis=1)
    return h / np.log(topk)


def main():
    probs_file, prior_file, topk, thr, alpha, iters, sample, out = sys.argv[1:9]
    p = np.load(probs_file).astype(np.float64)
    prior = np.load(prior_file).astype(np.float64)
    topk, thr, alpha, iters, sample = int(topk), float(thr), float(alpha), int(iters), int(sample)
    unc = uncertainty(p, topk)
    confident = p[unc < thr]
    uncertain = np.flatnonzero(unc >= thr)
    rows = uncertain[np.linspace(0, len(uncertain) - 1, min(sample, len(uncertain))).astype(int)]
    adjusted = np.empty((len(rows), p.shape[1]))
    start = time.perf_counter()
    for n, i in enumerate(rows):
        # The loop as the note writes it: stack, then alternate the normalisations.
        y = np.concatenate([confident, p[i : i + 1]], axis=0)
        for _ in range(iters):
            y = y**alpha
            y /= y.sum(axis=0, keepdims=True)
            y *= prior[None]
            y /= y.sum(axis=1, keepdims=True)
        adjusted[n] = y[-1]
    seconds = time.perf_counter() - start
    np.save(out, adjusted)
    print(json.dumps({"uncertain": int(len(uncertain)), "sampled": int(len(rows)), "seconds": seconds, "rows": rows.tolist()}))


if __name__ == "__main__":
    main()
