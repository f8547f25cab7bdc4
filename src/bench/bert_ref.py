"""PyTorch reference for `npm run bench -- bert`: the same BERT (Post-LN, learned positions, exact GELU,
MLM head tied to the word embeddings), float32 on CPU with the given thread count, timed on the same
shapes: inference forward, and forward + backward + AdamW step of the MLM loss. Prints JSON."""
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(s, h, heads, inter, p):
        super().__init__()
        s.heads, s.d = heads, h // heads
        s.q, s.k, s.v, s.o = (nn.Linear(h, h) for _ in range(4))
        s.ln1, s.ln2 = nn.LayerNorm(h, eps=1e-12), nn.LayerNorm(h, eps=1e-12)
        s.i, s.out = nn.Linear(h, inter), nn.Linear(inter, h)
        s.p = p

    def forward(s, x, bias):
        B, N, H = x.shape
        split = lambda t: t.view(B, N, s.heads, s.d).transpose(1, 2)
        q, k, v = split(s.q(x)), split(s.k(x)), split(s.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(s.d) + bias, -1)
        a = F.dropout(a, s.p, s.training)
        ctx = (a @ v).transpose(1, 2).reshape(B, N, H)
        x = s.ln1(x + F.dropout(s.o(ctx), s.p, s.training))
        return s.ln2(x + F.dropout(s.out(F.gelu(s.i(x))), s.p, s.training))


class Bert(nn.Module):
    def __init__(s, c):
        super().__init__()
        h = c["hidden"]
        s.word, s.pos, s.token_type = nn.Embedding(c["vocab"], h), nn.Embedding(512, h), nn.Embedding(2, h)
        s.ln = nn.LayerNorm(h, eps=1e-12)
        s.blocks = nn.ModuleList(Block(h, c["heads"], 4 * h, 0.1) for _ in range(c["layers"]))
        s.mlm_dense, s.mlm_ln = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        s.mlm_bias = nn.Parameter(torch.zeros(c["vocab"]))

    def forward(s, ids, mask):
        N = ids.shape[1]
        x = s.ln(s.word(ids) + s.pos.weight[:N] + s.token_type.weight[0])
        x = F.dropout(x, 0.1, s.training)
        bias = (1 - mask)[:, None, None, :] * -1e9
        for b in s.blocks:
            x = b(x, bias)
        return x

    def mlm_logits(s, h):
        return s.mlm_ln(F.gelu(s.mlm_dense(h))) @ s.word.weight.T + s.mlm_bias


def median_time(f, repeats):
    f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    m = Bert(c)
    B, N = c["batch"], c["seq"]
    ids = torch.randint(5, c["vocab"], (B, N))
    mask = torch.ones(B, N)
    positions = torch.tensor(c["positions"])
    targets = torch.tensor(c["targets"])
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, eps=1e-6, weight_decay=0.01)

    def forward():
        m.eval()
        with torch.no_grad():
            m(ids, mask)

    def step():
        m.train()
        opt.zero_grad()
        h = m(ids, mask).reshape(B * N, -1)[positions]
        loss = F.cross_entropy(m.mlm_logits(h), targets)
        loss.backward()
        opt.step()

    fwd = median_time(forward, c["repeats"])
    stp = median_time(step, c["repeats"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"forward": fwd, "step": stp, "peakRss": rss, "params": sum(p.numel() for p in m.parameters())}))


main()
