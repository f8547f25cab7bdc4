"""Reference for kexue's Hugging Face BERT import/export tests (plain PyTorch + Python, no transformers).

BERT / RoBERTa written from the published architecture with Hugging Face's parameter names, safetensors
read and written by hand (struct + json), and Hugging Face's BertTokenizer algorithm in plain Python.

  make DIR SPEC_JSON      random BERT → DIR/config.json + DIR/model.safetensors; prints forward outputs
  forward DIR SPEC_JSON   loads DIR (e.g. written by kexue's export) and prints forward outputs
  tokenize VOCAB OPTS_JSON TEXTS_JSON   prints the token lists

SPEC: {"config": {...HF config...}, "layout": "pretraining"|"masked_lm"|"model", "dtype": "F32"|"F16",
"seed": int, "ids": [[...]], "mask": [[...]], "types": [[...]]}. Forward runs in float64 on the stored
(float32/float16-rounded) weights, so it is the exact value kexue's float32 computation approximates.
"""
import json
import math
import struct
import sys
import unicodedata

torch = None  # imported by main() for make/forward only: tokenize needs just the standard library


def dtype(name):
    return {"F32": torch.float32, "F16": torch.float16, "I64": torch.int64}[name]


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, (t, dt) in tensors.items():
        b = t.to(dtype(dt)).contiguous().numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert header.get("__metadata__", {}).get("format") == "pt", "metadata format must be pt (transformers checks)"
    data, out = raw[8 + n :], {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dtype(e["dtype"])).reshape(e["shape"]).clone()
    return out


def random_state(cfg, layout, gen):
    """Hugging Face names → tensors; deliberately large values so every term matters."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    roberta = cfg.get("model_type") == "roberta"
    body = ("roberta." if roberta else "bert.") if layout != "model" else ""
    r = lambda *s, std=0.3: torch.randn(*s, generator=gen) * std
    st = {
        body + "embeddings.word_embeddings.weight": r(V, H, std=1.0),
        body + "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], H, std=0.5),
        body + "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], H, std=0.5),
        body + "embeddings.LayerNorm.weight": 1 + r(H, std=0.2),
        body + "embeddings.LayerNorm.bias": r(H, std=0.2),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"{body}encoder.layer.{i}."
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            st[p + n + ".weight"] = r(H, H, std=1 / math.sqrt(H))
            st[p + n + ".bias"] = r(H, std=0.1)
        st[p + "intermediate.dense.weight"] = r(I, H, std=1 / math.sqrt(H))
        st[p + "intermediate.dense.bias"] = r(I, std=0.1)
        st[p + "output.dense.weight"] = r(H, I, std=1 / math.sqrt(I))
        st[p + "output.dense.bias"] = r(H, std=0.1)
        for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
            st[p + n + ".weight"] = 1 + r(H, std=0.2)
            st[p + n + ".bias"] = r(H, std=0.2)
    if layout in ("pretraining", "model"):
        st[body + "pooler.dense.weight"] = r(H, H, std=1 / math.sqrt(H))
        st[body + "pooler.dense.bias"] = r(H, std=0.1)
    if layout in ("pretraining", "masked_lm"):
        if roberta:
            names = ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias")
        else:
            names = ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias")
        st[names[0] + ".weight"] = r(H, H, std=1 / math.sqrt(H))
        st[names[0] + ".bias"] = r(H, std=0.1)
        st[names[1] + ".weight"] = 1 + r(H, std=0.2)
        st[names[1] + ".bias"] = r(H, std=0.2)
        st[names[2]] = r(V, std=0.5)
    if layout == "pretraining" and not roberta:
        st["cls.seq_relationship.weight"] = r(2, H)
        st["cls.seq_relationship.bias"] = r(2)
    return st


def act(name):
    if name == "gelu":
        return lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if name == "relu":
        return torch.relu
    raise ValueError(name)


def layer_norm(x, st, p, eps):
    w = st.get(p + ".weight", st.get(p + ".gamma"))
    b = st.get(p + ".bias", st.get(p + ".beta"))
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def forward(cfg, st, ids, mask, types):
    st = {k: v.double() for k, v in st.items() if v.is_floating_point()}
    roberta = cfg.get("model_type") == "roberta"
    prefix = next((p for p in ("bert.", "roberta.") if any(k.startswith(p) for k in st)), "")
    g = lambda n: st[prefix + n]
    eps, f = cfg.get("layer_norm_eps", 1e-12), act(cfg.get("hidden_act", "gelu"))
    ids, mask, types = torch.tensor(ids), torch.tensor(mask, dtype=torch.float64), torch.tensor(types)
    B, N = ids.shape
    if roberta:  # create_position_ids_from_input_ids
        pad = cfg["pad_token_id"]
        m = (ids != pad).long()
        pos = torch.cumsum(m, 1) * m + pad
    else:
        pos = torch.arange(N).expand(B, N)
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[pos]
    x = x + g("embeddings.token_type_embeddings.weight")[types]
    x = layer_norm(x, st, prefix + "embeddings.LayerNorm", eps)
    hidden = [x]
    nh = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // nh
    lin = lambda x, n: x @ st[n + ".weight"].T + st[n + ".bias"]
    bias = (1 - mask)[:, None, None, :] * torch.finfo(torch.float64).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{i}."
        split = lambda t: t.view(B, N, nh, d).transpose(1, 2)
        q, k, v = (split(lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, -1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, N, -1)
        a = layer_norm(x + lin(ctx, p + "attention.output.dense"), st, p + "attention.output.LayerNorm", eps)
        x = layer_norm(a + lin(f(lin(a, p + "intermediate.dense")), p + "output.dense"), st, p + "output.LayerNorm", eps)
        hidden.append(x)
    out = {"hidden": [h.tolist() for h in hidden]}
    if prefix + "pooler.dense.weight" in st:
        out["pooled"] = torch.tanh(lin(x[:, 0], prefix + "pooler.dense")).tolist()
    head = "lm_head" if roberta else "cls.predictions"
    dense, ln = (("lm_head.dense", "lm_head.layer_norm") if roberta else ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm"))
    if dense + ".weight" in st:
        hf = act("gelu") if roberta else f
        t = layer_norm(hf(lin(x, dense)), st, ln, eps)
        out["logits"] = (t @ g("embeddings.word_embeddings.weight").T + st[head + ".bias"]).tolist()
    return out


def make(d, spec):
    cfg = spec["config"]
    gen = torch.Generator().manual_seed(spec["seed"])
    st = random_state(cfg, spec["layout"], gen)
    dtype = spec.get("dtype", "F32")
    stored = {k: (v, dtype) for k, v in st.items()}
    if spec["layout"] != "model" and cfg.get("model_type") != "roberta":
        stored["bert.embeddings.position_ids"] = (torch.arange(cfg["max_position_embeddings"])[None], "I64")
    write_safetensors(f"{d}/model.safetensors", stored)
    with open(f"{d}/config.json", "w") as fh:
        json.dump(cfg, fh)
    return forward(cfg, read_safetensors(f"{d}/model.safetensors"), spec["ids"], spec["mask"], spec["types"])


# ---- Hugging Face BertTokenizer (slow), written from its published algorithm ----


def is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def is_control(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_chinese(cp):
    return any(
        a <= cp <= b
        for a, b in [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                     (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
    )


def basic(text, lower, strip, chinese):
    text = "".join(" " if is_whitespace(c) else c for c in text if not (ord(c) in (0, 0xFFFD) or is_control(c)))
    if chinese:
        text = "".join(f" {c} " if is_chinese(ord(c)) else c for c in text)
    text = unicodedata.normalize("NFC", text)
    out = []
    for tok in text.split():
        if lower:
            tok = tok.lower()
            if strip is not False:
                tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        elif strip:
            tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        cur = []
        for c in tok:
            if is_punctuation(c):
                if cur:
                    out.append("".join(cur))
                out.append(c)
                cur = []
            else:
                cur.append(c)
        if cur:
            out.append("".join(cur))
    return " ".join(out).split()


def wordpiece(word, vocab, unk, max_chars=100):
    chars = list(word)
    if len(chars) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            s = "".join(chars[start:end])
            if start > 0:
                s = "##" + s
            if s in vocab:
                cur = s
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def tokenize(vocab_file, opts, texts):
    with open(vocab_file, encoding="utf-8") as f:
        vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    specials = sorted(opts["specials"], key=len, reverse=True)
    unk = opts.get("unk", "[UNK]")
    res = []
    for text in texts:
        # PreTrainedTokenizer.tokenize: special tokens are cut out first and kept whole.
        parts, i, start = [], 0, 0
        while i < len(text):
            hit = next((s for s in specials if text.startswith(s, i)), None)
            if hit is None:
                i += 1
                continue
            parts.append((text[start:i], False))
            parts.append((hit, True))
            i += len(hit)
            start = i
        parts.append((text[start:], False))
        toks = []
        for p, special in parts:
            if special:
                toks.append(p)
                continue
            if opts["lower"]:  # PreTrainedTokenizer.tokenize lowercases outside special tokens, char by char
                p = "".join(c.lower() for c in p)
            for w in basic(p, opts["lower"], opts.get("strip"), opts.get("chinese", True)):
                toks.extend(wordpiece(w, vocab, unk))
        res.append(toks)
    return res


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd != "tokenize":
        import torch  # module level: binds the global used by the functions above

        torch.set_num_threads(1)
    if cmd == "make":
        print(json.dumps(make(sys.argv[2], json.loads(sys.argv[3]))))
    elif cmd == "forward":
        spec = json.loads(sys.argv[3])
        with open(f"{sys.argv[2]}/config.json") as fh:
            cfg = json.load(fh)
        st = read_safetensors(f"{sys.argv[2]}/model.safetensors")
        print(json.dumps(forward(cfg, st, spec["ids"], spec["mask"], spec["types"])))
    elif cmd == "tokenize":
        print(json.dumps(tokenize(sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]))))
