"""Reference for `npm run bench -- cosent`: the CoSENT loss in its O(B^2) form in PyTorch (float32,
as in bojone/CoSENT and sentence-transformers' CoSENTLoss), forward + backward.

Usage: cosent_ref.py COS.npy LABELS.npy SCALE REPEATS
Prints JSON {loss, seconds} with seconds the median time of one forward + backward.
"""
import json
import sys
import time

import numpy as np
import torch


def cosent(cos, labels, scale):
    s = cos * scale
    diff = s[None, :] - s[:, None]  # [i, j] = s_j - s_i
    mask = labels[:, None] > labels[None, :]
    diff = diff - (~mask).float() * 1e12
    return torch.logsumexp(torch.cat([torch.zeros(1), diff.view(-1)]), dim=0)


def main():
    cos_file, labels_file, scale, repeats = sys.argv[1:5]
    torch.set_num_threads(1)
    cos0 = torch.from_numpy(np.load(cos_file).astype(np.float32))
    labels = torch.from_numpy(np.load(labels_file).astype(np.float32))
    times = []
    loss = None
    for _ in range(int(repeats) + 1):
        cos = cos0.clone().requires_grad_(True)
        start = time.perf_counter()
        loss = cosent(cos, labels, float(scale))
        loss.backward()
        times.append(time.perf_counter() - start)
    print(json.dumps({"loss": float(loss), "seconds": float(np.median(times[1:]))}))


if __name__ == "__main__":
    main()
