"""PyTorch twins of `npm run bench -- training`'s workloads (src/bench/training.ts): the same models,
shapes, losses and optimizers, float32 on CPU with the given thread count, written the way a PyTorch
user would (nn.Module, loss.backward(), torch.optim). Reads one JSON spec on argv, times
`warmup` + `steps` steps, prints {"ms": [per-step wall ms...], "cpuMs": mean CPU ms per step}.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp_model():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def mlp(spec, gen):
    """The tfjs-layers MLP: one batch of 128 per step, Adam, softmax cross-entropy, loss read back."""
    model = mlp_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.randn(spec["batches"], 128, 784, generator=gen)
    y = torch.randint(0, 10, (spec["batches"], 128), generator=gen)
    i = [0]

    def step():
        b = i[0] % spec["batches"]
        i[0] += 1
        opt.zero_grad()
        loss = F.cross_entropy(model(x[b]), y[b])
        loss.backward()
        opt.step()
        return loss.item()

    return step


def rope(x, base=10000.0):
    """Rotate-half RoPE on [B, heads, N, d]."""
    n, d = x.shape[-2], x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    ang = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Block(nn.Module):
    """Post-LN block with RoPE attention and an exact-GELU FFN, dropout 0.1 like kexue's encoder."""

    def __init__(s, h, heads):
        super().__init__()
        s.heads, s.d = heads, h // heads
        s.q, s.k, s.v, s.o = (nn.Linear(h, h) for _ in range(4))
        s.ln1, s.ln2 = nn.LayerNorm(h, eps=1e-12), nn.LayerNorm(h, eps=1e-12)
        s.i, s.out = nn.Linear(h, 4 * h), nn.Linear(4 * h, h)

    def forward(s, x, bias, scale):
        B, N, H = x.shape
        split = lambda t: t.view(B, N, s.heads, s.d).transpose(1, 2)
        q, k, v = rope(split(s.q(x))), rope(split(s.k(x))), split(s.v(x))
        a = F.dropout(torch.softmax(q @ k.transpose(-1, -2) * scale + bias, -1), 0.1, s.training)
        ctx = (a @ v).transpose(1, 2).reshape(B, N, H)
        x = s.ln1(x + F.dropout(s.o(ctx), 0.1, s.training))
        return s.ln2(x + F.dropout(s.out(F.gelu(s.i(x))), 0.1, s.training))


class Encoder(nn.Module):
    """kexue's recipe encoder: embeddings + LayerNorm, Post-LN RoPE blocks, BERT's MLM head (tied)."""

    def __init__(s, vocab, h, layers, heads, logn=False):
        super().__init__()
        s.d, s.logn = h // heads, logn
        s.word, s.token_type, s.ln = nn.Embedding(vocab, h), nn.Embedding(2, h), nn.LayerNorm(h, eps=1e-12)
        s.blocks = nn.ModuleList(Block(h, heads) for _ in range(layers))
        s.mlm_dense, s.mlm_ln = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        s.mlm_bias = nn.Parameter(torch.zeros(vocab))

    def forward(s, ids, mask):
        x = F.dropout(s.ln(s.word(ids) + s.token_type.weight[0]), 0.1, s.training)
        bias = (1 - mask)[:, None, None, :] * -1e9
        # 1/√d, or the entropy-invariant log(max(n, 16))/log(512)/√d per example (n: its unmasked keys).
        scale = 1 / math.sqrt(s.d)
        if s.logn:
            scale = (torch.log(mask.sum(1).clamp(min=16)) / math.log(512) * scale)[:, None, None, None]
        for b in s.blocks:
            x = b(x, bias, scale)
        return x

    def mlm_logits(s, h):
        return s.mlm_ln(F.gelu(s.mlm_dense(h))) @ s.word.weight.T + s.mlm_bias


def adamw(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-6, weight_decay=0.01)


def mlm(spec, gen):
    """MLM pretraining step: 15% of the positions, AdamW with global-norm clipping at 1 (as kexue's)."""
    B, N, V = spec["batch"], spec["seq"], spec["vocab"]
    m = Encoder(V, spec["hidden"], spec["layers"], spec["heads"], spec.get("logN", False))
    m.train()
    opt = adamw(m)
    ids = torch.tensor(spec["ids"]).view(B, N)
    mask = torch.ones(B, N)
    positions, targets = torch.tensor(spec["positions"]), torch.tensor(spec["targets"])

    def step():
        opt.zero_grad()
        h = m(ids, mask).reshape(B * N, -1)[positions]
        loss = F.cross_entropy(m.mlm_logits(h), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return loss.item()

    return step


def cosent(spec, gen):
    """CoSENT fine-tuning step: mean-pooled embeddings of both sides, the CoSENT loss (scale 20), AdamW."""
    B, N = spec["batch"], spec["seq"]
    m = Encoder(spec["vocab"], spec["hidden"], spec["layers"], spec["heads"])
    m.train()
    opt = adamw(m)
    a, b = torch.tensor(spec["a"]).view(B, N), torch.tensor(spec["b"]).view(B, N)
    mask = torch.ones(B, N)
    labels = torch.tensor(spec["labels"], dtype=torch.float32)

    def step():
        opt.zero_grad()
        u, v = m(a, mask).mean(1), m(b, mask).mean(1)
        cos = F.cosine_similarity(u, v) * 20
        d = cos[None, :] - cos[:, None]  # d[i, j] = s_j − s_i, counted where label_i > label_j
        d = d - (1 - (labels[:, None] > labels[None, :]).float()) * 1e12
        loss = torch.logsumexp(torch.cat([torch.zeros(1), d.reshape(-1)]), 0)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def gan_nets(conv):
    """The MNIST experiment's generator and critic on rows of 784: MLPs, or the DCGAN-style conv pair
    (4×4 stride-2 convolutions, padding 1 = TF's 'same' here; no batch norm)."""
    if not conv:
        G = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 784), nn.Tanh())
        D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        return G, D
    G = nn.Sequential(
        nn.Linear(64, 7 * 7 * 128), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(), nn.Flatten(),
    )
    D = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1),
    )
    return G, D


def gan(spec, gen):
    """One GN-GAN iteration on MNIST-sized rows: a critic step and a generator step, both through
    f̂ = f/(‖∇ₓf‖ + |f|) (double backprop), hinge loss, Adam(2e-4, 0.5, 0.9), batch 64."""
    B = 64
    G, D = gan_nets(spec["workload"] == "gan-conv")
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.9))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.9))
    real = torch.rand(B, 784, generator=gen) * 2 - 1

    def fhat(x):
        x = x if x.requires_grad else x.requires_grad_(True)
        f = D(x).squeeze(1)
        (g,) = torch.autograd.grad(f.sum(), x, create_graph=True)
        return f / (g.flatten(1).norm(dim=1) + f.abs())

    def step():
        od.zero_grad()
        fake = G(torch.randn(B, 64)).detach()
        ld = F.relu(1 - fhat(real.clone())).mean() + F.relu(1 + fhat(fake)).mean()
        ld.backward()
        od.step()
        og.zero_grad()
        lg = -fhat(G(torch.randn(B, 64))).mean()
        lg.backward()
        og.step()
        return ld.item(), lg.item()

    return step


def iwae(spec, gen):
    """IWAE (k = 5) step of the paper's one-layer model (784-200-200-50, tanh), batch 100, dynamic
    binarization, Adam(β = 0.9, 0.999, ε = 1e-4)."""
    k, B = spec["k"], 100
    enc = nn.Sequential(nn.Linear(784, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(), nn.Linear(200, 100))
    dec = nn.Sequential(nn.Linear(50, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(), nn.Linear(200, 784))
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3, eps=1e-4)
    probs = torch.rand(spec["batches"], B, 784, generator=gen)
    i = [0]
    log2pi = math.log(2 * math.pi)

    def step():
        x = torch.bernoulli(probs[i[0] % spec["batches"]])
        i[0] += 1
        opt.zero_grad()
        mu, logvar = enc(x).chunk(2, -1)
        z = mu[:, None] + (0.5 * logvar).exp()[:, None] * torch.randn(B, k, 50)
        logq = (-0.5 * (log2pi + logvar[:, None] + (z - mu[:, None]) ** 2 / logvar.exp()[:, None])).sum(-1)
        logpz = (-0.5 * (log2pi + z**2)).sum(-1)
        logits = dec(z)
        logpx = -F.binary_cross_entropy_with_logits(logits, x[:, None].expand_as(logits), reduction="none").sum(-1)
        lw = logpx + logpz - logq
        loss = -(torch.logsumexp(lw, 1) - math.log(k)).mean()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    step = {"mlp-fit": mlp, "mlp-minimize": mlp, "mlm": mlm, "mlm-logn": mlm, "bert-base": mlm, "cosent": cosent, "gan": gan, "gan-conv": gan, "iwae": iwae}[
        spec["workload"]
    ](spec, gen)
    for _ in range(spec["warmup"]):
        step()
    ms = []
    cpu0 = time.process_time()
    for _ in range(spec["steps"]):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    cpu = (time.process_time() - cpu0) * 1e3 / spec["steps"]
    print(json.dumps({"ms": ms, "cpuMs": cpu}))


main()
