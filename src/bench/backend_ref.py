"""PyTorch reference for `npm run bench -- backend`: the same workloads as src/bench/backend.ts.

Usage: python3 backend_ref.py THREADS MIN_SECONDS [workload ...]; prints one JSON object
{workload: {"wall": ms, "cpu": ms}} per iteration. Runs on CPU with THREADS intra-op threads.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def timed(step, min_seconds):
    """Wall: fastest mean over ~0.25 s batches (at least 3, for min_seconds); CPU: mean over all batches."""
    t = time.perf_counter()
    for _ in range(3):
        step()
    per = (time.perf_counter() - t) / 3
    k = max(1, round(0.25 / max(per, 1e-6)))
    best, start, b, n = float('inf'), time.perf_counter(), 0, 0
    cpu0 = time.process_time()
    while b < 3 or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        for _ in range(k):
            step()
        best = min(best, (time.perf_counter() - t) / k)
        b += 1
        n += k
    return {'wall': best * 1e3, 'cpu': (time.process_time() - cpu0) / n * 1e3}


def matmul(m, k, n):
    a, b = torch.randn(m, k), torch.randn(k, n)
    return lambda: torch.mm(a, b)


def mlp():
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


class Block(torch.nn.Module):
    """Pre-norm Transformer block written with the same primitive ops as the TF.js version."""

    def __init__(self, hidden=256, heads=4, ffn=1024):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(hidden), torch.nn.LayerNorm(hidden)
        self.qkv, self.proj = torch.nn.Linear(hidden, 3 * hidden), torch.nn.Linear(hidden, hidden)
        self.ff1, self.ff2 = torch.nn.Linear(hidden, ffn), torch.nn.Linear(ffn, hidden)

    def forward(self, x):
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=-1)
        split = lambda t: t.reshape(b, s, self.heads, d).transpose(1, 2)
        att = torch.softmax(split(q) @ split(k).transpose(-1, -2) / d**0.5, dim=-1)
        x = x + self.proj((att @ split(v)).transpose(1, 2).reshape(b, s, h))
        return x + self.ff2(torch.relu(self.ff1(self.ln2(x))))


def transformer():
    block = Block()
    opt = torch.optim.Adam(block.parameters(), lr=1e-3)
    x = torch.randn(16, 128, 256)

    def step():
        opt.zero_grad()
        loss = block(x).square().mean()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def convnet():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(24 * 24 * 64, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


WORKLOADS = {
    'matmul1024': lambda: matmul(1024, 1024, 1024),
    'matmul256x768': lambda: matmul(256, 768, 768),
    'mlp': mlp,
    'transformer': transformer,
    'convnet': convnet,
}


def main():
    threads, min_seconds = int(sys.argv[1]), float(sys.argv[2])
    names = sys.argv[3:] or list(WORKLOADS)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(json.dumps({name: timed(WORKLOADS[name](), min_seconds) for name in names}))


if __name__ == '__main__':
    main()
