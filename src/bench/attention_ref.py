"""Reference for `npm run bench -- attention`: the overhead of the log-n attention scale on one training
step of a small post-LN Transformer encoder in PyTorch (float32, one thread), standard vs log-n,
interleaved. The log-n factor is computed per example from the padding mask, as bert4keras's
softmax_plus does per row.

Usage: attention_ref.py LAYERS HIDDEN HEADS BATCH SEQ REPEATS
Prints JSON {standard, logn} with each the median seconds of one forward + backward + SGD update.
"""
import json
import math
import sys
import time

import numpy as np
import torch


class Block(torch.nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.h, self.heads = h, heads
        self.qkv = torch.nn.Linear(h, 3 * h)
        self.o = torch.nn.Linear(h, h)
        self.n1 = torch.nn.LayerNorm(h)
        self.ff = torch.nn.Sequential(torch.nn.Linear(h, 4 * h), torch.nn.GELU(), torch.nn.Linear(4 * h, h))
        self.n2 = torch.nn.LayerNorm(h)

    def forward(self, x, mask, logn):
        b, n, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        if logn:
            l = mask.sum(-1).clamp(min=16)
            scores = scores * (torch.log(l) / math.log(512)).view(b, 1, 1, 1)
        scores = scores + (1 - mask).view(b, 1, 1, n) * -1e9
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, h)
        x = self.n1(x + self.o(ctx))
        return self.n2(x + self.ff(x))


def main():
    layers, hidden, heads, batch, seq, repeats = map(int, sys.argv[1:7])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([Block(hidden, heads) for _ in range(layers)])
    opt = torch.optim.SGD(blocks.parameters(), lr=1e-4)
    x0 = torch.randn(batch, seq, hidden)
    mask = torch.ones(batch, seq)

    def step(logn):
        start = time.perf_counter()
        x = x0
        for blk in blocks:
            x = blk(x, mask, logn)
        loss = (x ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    step(False), step(True)
    times = {False: [], True: []}
    for _ in range(repeats):
        for logn in (False, True):
            times[logn].append(step(logn))
    print(json.dumps({"standard": float(np.median(times[False])), "logn": float(np.median(times[True]))}))


if __name__ == "__main__":
    main()
