"""PyTorch reference for `npm run bench -- density`: the same one-layer IWAE as kexue's bench
(784-200-200-50 tanh encoder, 50-200-200-784 Bernoulli decoder, Adam eps 1e-4), float32 on CPU.

Usage: density_ref.py THREADS X.npy STEPS SCORE_IMAGES K CHUNK_ROWS
Prints JSON {"train": {"wall": ms, "cpu": ms}, "score": {"wall": s/image, "cpu": s/image}, "nll": float}:
train = median of STEPS IWAE k=50 steps on the batch in X.npy; score = one log p(x) estimate with K
samples for the first SCORE_IMAGES rows, in chunks of CHUNK_ROWS rows (images x samples).
"""
import json
import math
import sys
import time

import numpy as np
import torch


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        torch.nn.init.xavier_uniform_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        layers += [lin, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


LOG2PI = math.log(2 * math.pi)


def log_weights(enc, dec, x, k):
    b = x.shape[0]
    h = enc(x)
    mu, lv = h[:, :50], h[:, 50:]
    eps = torch.randn(b, k, 50)
    z = mu[:, None] + torch.exp(0.5 * lv)[:, None] * eps
    logits = dec(z.reshape(b * k, 50)).reshape(b, k, 784)
    logpx = (x[:, None] * logits - torch.nn.functional.softplus(logits)).sum(-1)
    logpz = -0.5 * (z * z + LOG2PI).sum(-1)
    logq = -0.5 * (((z - mu[:, None]) ** 2) * torch.exp(-lv)[:, None] + lv[:, None] + LOG2PI).sum(-1)
    return logpx + logpz - logq


def main():
    threads, xfile, steps, n_score, k, chunk_rows = sys.argv[1:7]
    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    x = torch.from_numpy(np.load(xfile).astype(np.float32))
    enc, dec = mlp([784, 200, 200, 100]), mlp([50, 200, 200, 784])
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-4)
    walls, cpus = [], []
    for i in range(int(steps) + 2):
        t, c = time.perf_counter(), time.process_time()
        lw = log_weights(enc, dec, x, 50)
        loss = -(torch.logsumexp(lw, 1) - math.log(50)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        if i >= 2:
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
    n_score, k, chunk_rows = int(n_score), int(k), int(chunk_rows)
    b = max(1, min(n_score, chunk_rows // k)) if chunk_rows >= k else 1
    c = min(k, chunk_rows // b)
    t, cpu = time.perf_counter(), time.process_time()
    total = 0.0
    with torch.no_grad():
        for s in range(0, n_score, b):
            xb = x[s : s + b]
            parts = [torch.logsumexp(log_weights(enc, dec, xb, min(c, k - j)), 1) for j in range(0, k, c)]
            total += float((torch.logsumexp(torch.stack(parts, 1), 1) - math.log(k)).sum())
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    print(json.dumps({
        "train": {"wall": float(np.median(walls)) * 1e3, "cpu": float(np.median(cpus)) * 1e3},
        "score": {"wall": wall / n_score, "cpu": cpu / n_score},
        "nll": -total / n_score,
    }))


if __name__ == "__main__":
    main()
