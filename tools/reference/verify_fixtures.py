#!/usr/bin/python3
"""Independent check of tests/fixtures: a NumPy float64 re-implementation of
BERT / ALBERT / BERT+PKM forward passes and losses, written from config.json
alone (no torch modules), compared with expected_f64.safetensors; plus
central finite differences of the NumPy loss for a few parameter entries,
compared with the stored gradients.

    /usr/bin/python3 tools/reference/verify_fixtures.py
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import load_file  # noqa: E402

FIX = os.path.abspath(os.path.join(HERE, "..", "..", "tests", "fixtures"))
_erf = np.vectorize(math.erf)


def np_t(d):
    return {k: v.double().numpy() if v.is_floating_point() else v.numpy() for k, v in d.items()}


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def act(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name == "gelu_new":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(name)


def lin(x, P, name):
    y = x @ P[name + ".weight"].T
    return y + P[name + ".bias"] if name + ".bias" in P else y


def softmax(x, axis=-1):
    m = x.max(axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis, keepdims=True)


def attention(x, P, pre, nh, mask_add, names):
    q_n, k_n, v_n = names
    Bs, S, H = x.shape
    d = H // nh
    q = lin(x, P, pre + q_n).reshape(Bs, S, nh, d).transpose(0, 2, 1, 3)
    k = lin(x, P, pre + k_n).reshape(Bs, S, nh, d).transpose(0, 2, 1, 3)
    v = lin(x, P, pre + v_n).reshape(Bs, S, nh, d).transpose(0, 2, 1, 3)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + mask_add
    p = softmax(s)
    ctx = (p @ v).transpose(0, 2, 1, 3).reshape(Bs, S, H)
    return ctx, p


def pkm_forward(x, P, pre, cfg, trace):
    heads, k_dim, n_keys, knn = cfg["heads"], cfg["k_dim"], cfg["n_keys"], cfg["knn"]
    shp = x.shape
    xs = x.reshape(-1, shp[-1])
    q = lin(xs, P, pre + "query_proj.0")
    if cfg.get("query_batchnorm", True):
        bn = pre + "query_proj.1."
        q = (q - P[bn + "running_mean"]) / np.sqrt(P[bn + "running_var"] + cfg.get("batchnorm_eps", 1e-5)) \
            * P[bn + "weight"] + P[bn + "bias"]
    q = q.reshape(-1, heads, k_dim)
    half = k_dim // 2
    keys = P[pre + "keys"]
    vals = P[pre + "values.weight"]
    out = np.zeros((xs.shape[0], vals.shape[1]))
    idx_all = np.zeros((xs.shape[0], heads, knn), dtype=np.int64)
    for t in range(xs.shape[0]):
        for h in range(heads):
            s1 = keys[h, 0] @ q[t, h, :half]
            s2 = keys[h, 1] @ q[t, h, half:]
            i1 = np.argsort(-s1, kind="stable")[:knn]
            i2 = np.argsort(-s2, kind="stable")[:knn]
            cand_s = (s1[i1][:, None] + s2[i2][None, :]).reshape(-1)
            cand_i = (i1[:, None] * n_keys + i2[None, :]).reshape(-1)
            best = np.argsort(-cand_s, kind="stable")[:knn]
            w = softmax(cand_s[best])
            idx_all[t, h] = cand_i[best]
            out[t] += w @ vals[cand_i[best]]
    trace.append(idx_all.reshape(shp[:-1] + (heads, knn)))
    return out.reshape(shp[:-1] + (vals.shape[1],))


def ce(logits, labels, ignore=-100):
    lp = logits - logits.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    keep = labels != ignore
    return -lp[keep, labels[keep]].mean()


def bert_forward(cfg, P, inp):
    ids, tt, am = inp["input_ids"], inp["token_type_ids"], inp["attention_mask"]
    Bs, S = ids.shape
    mask_add = ((1.0 - am[:, None, None, :]) * np.finfo(np.float64).min)
    is_albert = cfg["model_type"] == "albert"
    root = "albert." if is_albert else "bert."
    e = P[root + "embeddings.word_embeddings.weight"][ids] + P[root + "embeddings.token_type_embeddings.weight"][tt] \
        + P[root + "embeddings.position_embeddings.weight"][np.arange(S)][None]
    e = layer_norm(e, P[root + "embeddings.LayerNorm.weight"], P[root + "embeddings.LayerNorm.bias"], cfg["layer_norm_eps"])
    out = {}
    hidden, attns, mem_trace = [], [], []
    eps = cfg["layer_norm_eps"]
    nh = cfg["num_attention_heads"]
    if is_albert:
        out["embedding_output"] = e
        x = lin(e, P, "albert.encoder.embedding_hidden_mapping_in")
        hidden.append(x)
        n, g = cfg["num_hidden_layers"], cfg["num_hidden_groups"]
        for i in range(n):
            gi = int(i / (n / g))
            for j in range(cfg["inner_group_num"]):
                pre = f"albert.encoder.albert_layer_groups.{gi}.albert_layers.{j}."
                ctx, p = attention(x, P, pre + "attention.", nh, mask_add, ("query", "key", "value"))
                a = layer_norm(x + lin(ctx, P, pre + "attention.dense"), P[pre + "attention.LayerNorm.weight"],
                               P[pre + "attention.LayerNorm.bias"], eps)
                f = lin(act(cfg["hidden_act"], lin(a, P, pre + "ffn")), P, pre + "ffn_output")
                x = layer_norm(f + a, P[pre + "full_layer_layer_norm.weight"], P[pre + "full_layer_layer_norm.bias"], eps)
                attns.append(p)
            hidden.append(x)
        if "albert.pooler.weight" in P:
            out["pooler_output"] = np.tanh(lin(x[:, 0], P, "albert.pooler"))
    else:
        x = e
        hidden.append(x)
        pkm = cfg.get("pkm")
        for i in range(cfg["num_hidden_layers"]):
            pre = f"bert.encoder.layer.{i}."
            ctx, p = attention(x, P, pre + "attention.self.", nh, mask_add, ("query", "key", "value"))
            a = layer_norm(lin(ctx, P, pre + "attention.output.dense") + x, P[pre + "attention.output.LayerNorm.weight"],
                           P[pre + "attention.output.LayerNorm.bias"], eps)
            pos = pkm["position"] if pkm and i in pkm["layers"] else None
            if pos == "in":
                f = pkm_forward(a, P, pre + "memory.", pkm, mem_trace)
            else:
                f = lin(act(cfg["hidden_act"], lin(a, P, pre + "intermediate.dense")), P, pre + "output.dense")
            x = layer_norm(f + a, P[pre + "output.LayerNorm.weight"], P[pre + "output.LayerNorm.bias"], eps)
            if pos == "after":
                x = x + pkm_forward(x, P, pre + "memory.", pkm, mem_trace)
            hidden.append(x)
            attns.append(p)
        if "bert.pooler.dense.weight" in P:
            out["pooler_output"] = np.tanh(lin(x[:, 0], P, "bert.pooler.dense"))
    for i, h in enumerate(hidden):
        out[f"hidden_states.{i}"] = h
    for i, p in enumerate(attns):
        out[f"attentions.{i}"] = p
    return x, out, mem_trace


def heads_forward(arch, cfg, P, inp, labels):
    x, out, trace = bert_forward(cfg, P, inp)
    V = cfg["vocab_size"]
    eps = cfg["layer_norm_eps"]

    def mlm_bert(h):
        t = layer_norm(act(cfg["hidden_act"], lin(h, P, "cls.predictions.transform.dense")),
                       P["cls.predictions.transform.LayerNorm.weight"], P["cls.predictions.transform.LayerNorm.bias"], eps)
        return t @ P["bert.embeddings.word_embeddings.weight"].T + P["cls.predictions.bias"]

    def mlm_albert(h):
        t = layer_norm(act(cfg["hidden_act"], lin(h, P, "predictions.dense")), P["predictions.LayerNorm.weight"],
                       P["predictions.LayerNorm.bias"], eps)
        return t @ P["albert.embeddings.word_embeddings.weight"].T + P["predictions.bias"]

    if arch == "BertForPreTraining":
        out["prediction_logits"] = mlm_bert(x)
        out["seq_relationship_logits"] = lin(out["pooler_output"], P, "cls.seq_relationship")
        out["mlm_loss"] = ce(out["prediction_logits"].reshape(-1, V), labels["labels"].reshape(-1))
        out["nsp_loss"] = ce(out["seq_relationship_logits"], labels["next_sentence_label"])
        out["loss"] = out["mlm_loss"] + out["nsp_loss"]
    elif arch == "BertForMaskedLM":
        out["logits"] = mlm_bert(x)
        out["loss"] = ce(out["logits"].reshape(-1, V), labels["labels"].reshape(-1))
    elif arch == "BertForNextSentencePrediction":
        out["logits"] = lin(out["pooler_output"], P, "cls.seq_relationship")
        out["loss"] = ce(out["logits"], labels["labels"])
    elif arch in ("BertForSequenceClassification", "AlbertForSequenceClassification"):
        out["logits"] = lin(out["pooler_output"], P, "classifier")
        y = labels["labels"]
        nl = len(cfg["id2label"])
        if nl == 1:
            out["loss"] = ((out["logits"].reshape(-1) - y.reshape(-1)) ** 2).mean()
        elif cfg.get("problem_type") == "multi_label_classification":
            z = out["logits"]
            out["loss"] = (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()
        else:
            out["loss"] = ce(out["logits"], y)
    elif arch == "BertForTokenClassification":
        out["logits"] = lin(x, P, "classifier")
        out["loss"] = ce(out["logits"].reshape(-1, out["logits"].shape[-1]), labels["labels"].reshape(-1))
    elif arch == "BertForQuestionAnswering":
        lg = lin(x, P, "qa_outputs")
        out["start_logits"], out["end_logits"] = lg[..., 0], lg[..., 1]
        S = lg.shape[1]
        sp = np.clip(labels["start_positions"], 0, S)
        ep = np.clip(labels["end_positions"], 0, S)
        out["start_loss"] = ce(out["start_logits"], sp, ignore=S)
        out["end_loss"] = ce(out["end_logits"], ep, ignore=S)
        out["loss"] = (out["start_loss"] + out["end_loss"]) / 2
    elif arch == "AlbertForPreTraining":
        out["prediction_logits"] = mlm_albert(x)
        out["sop_logits"] = lin(out["pooler_output"], P, "sop_classifier.classifier")
        out["mlm_loss"] = ce(out["prediction_logits"].reshape(-1, V), labels["labels"].reshape(-1))
        out["sop_loss"] = ce(out["sop_logits"], labels["sentence_order_label"])
        out["loss"] = out["mlm_loss"] + out["sop_loss"]
    elif arch == "AlbertForMaskedLM":
        out["logits"] = mlm_albert(x)
        out["loss"] = ce(out["logits"].reshape(-1, V), labels["labels"].reshape(-1))
    else:
        raise ValueError(arch)
    return out, trace


def main():
    manifest = json.load(open(os.path.join(FIX, "manifest.json")))
    inputs = np_t(load_file(os.path.join(FIX, manifest["inputs"]["file"]))[0])
    rng = np.random.RandomState(0)
    worst_fwd = 0.0
    for m in manifest["models"]:
        d = os.path.join(FIX, m["dir"])
        cfg = json.load(open(os.path.join(d, "config.json")))
        P = np_t(load_file(os.path.join(d, "model.safetensors"))[0])
        exp64 = np_t(load_file(os.path.join(d, "expected_f64.safetensors"))[0])
        exp32 = np_t(load_file(os.path.join(d, "expected.safetensors"))[0])
        fa = m["forward_args"]
        inp = {k: inputs[fa[k]] for k in ("input_ids", "token_type_ids", "attention_mask")}
        labels = {k: inputs[v] for k, v in fa.items() if k not in inp}
        out, trace = heads_forward(m["architecture"], cfg, P, inp, labels)
        err = 0.0
        for k, v in out.items():
            ref = exp64[k]
            e = float(np.max(np.abs(np.asarray(v) - ref))) if np.size(ref) else 0.0
            err = max(err, e)
            assert e < 1e-9, f"{m['name']}: {k} differs from torch by {e}"
        pkm = cfg.get("pkm")
        for li, idx in zip(pkm["layers"] if pkm else [], trace):
            assert np.array_equal(idx, exp32[f"memory.{li}.indices"]), f"{m['name']}: memory indices"
        worst_fwd = max(worst_fwd, err)
        # finite differences on a few entries of a few parameters
        names = sorted(k for k in P if "grad." + k in exp32)
        picks = [names[i] for i in rng.choice(len(names), size=min(6, len(names)), replace=False)]
        picks += [k for k in names if k.endswith(("memory.keys", "memory.values.weight", "query_proj.1.weight",
                                                  "word_embeddings.weight"))]
        fd_err = 0.0
        for name in picks:
            flat = P[name].reshape(-1)
            gref = (exp64.get("grad." + name, exp32["grad." + name])).reshape(-1)
            # sparse gradients (embeddings, memory values): half of the time take the largest entry
            j = int(np.argmax(np.abs(gref))) if rng.rand() < 0.5 else int(rng.randint(flat.size))
            h = 1e-5
            orig = flat[j]
            flat[j] = orig + h
            lp = heads_forward(m["architecture"], cfg, P, inp, labels)[0]["loss"]
            flat[j] = orig - h
            lm = heads_forward(m["architecture"], cfg, P, inp, labels)[0]["loss"]
            flat[j] = orig
            fd = (lp - lm) / (2 * h)
            g = (exp64.get("grad." + name, exp32["grad." + name])).reshape(-1)[j]
            tol = 1e-6 if "grad." + name in exp64 else 1e-4
            e = abs(fd - g) / max(1.0, abs(g))
            fd_err = max(fd_err, e)
            assert e < tol, f"{m['name']}: finite difference for {name}[{j}]: fd={fd} grad={g}"
        print(f"{m['name']:<34} forward max|numpy-torch| = {err:.1e}   finite-diff rel err = {fd_err:.1e}")
    verify_optim()
    print(f"OK (worst forward difference {worst_fwd:.1e})")


def verify_optim():
    """Re-derive the optimizer fixture in NumPy float64 from the update rules."""
    T = np_t(load_file(os.path.join(FIX, "optim", "optim.safetensors"))[0])
    meta = json.load(open(os.path.join(FIX, "optim", "optim.json")))
    names = meta["param_names"]
    worst = 0.0
    for key, info in meta["optimizers"].items():
        hp = info["hyperparameters"]
        p = {n: T[f"init.{n}"].copy() for n in names}
        st = {n: [np.zeros_like(p[n]), np.zeros_like(p[n]), None] for n in names}
        for t in (1, 2, 3):
            g = {n: T[f"grad.{t}.{n}"] for n in names}
            if hp.get("max_grad_norm"):
                gn = math.sqrt(sum(float((g[n] ** 2).sum()) for n in names))
                if gn > hp["max_grad_norm"]:
                    g = {n: g[n] * hp["max_grad_norm"] / gn for n in names}
            for n in names:
                lr = hp["lr"]
                if key == "sgd":
                    buf = g[n].copy() if st[n][2] is None else hp["momentum"] * st[n][2] + g[n]
                    st[n][2] = buf
                    p[n] = p[n] - lr * buf
                    continue
                b1, b2 = hp["betas"]
                m = st[n][0] = b1 * st[n][0] + (1 - b1) * g[n]
                v = st[n][1] = b2 * st[n][1] + (1 - b2) * g[n] ** 2
                mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
                if key == "adam":
                    p[n] = p[n] - lr * mh / (np.sqrt(vh) + hp["eps"])
                elif key == "adamw":
                    p[n] = p[n] * (1 - lr * hp["weight_decay"]) - lr * mh / (np.sqrt(vh) + hp["eps"])
                else:
                    u = mh / (np.sqrt(vh) + hp["eps"]) + hp["weight_decay"] * p[n]
                    wn, un = np.linalg.norm(p[n]), np.linalg.norm(u)
                    r = wn / un if wn > 0 and un > 0 else 1.0
                    assert abs(r - info["trust_ratios"][t - 1][n]) <= 1e-5 * max(1, r), (key, n, t)
                    p[n] = p[n] - lr * r * u
            if t in (1, 3):
                for n in names:
                    e = float(np.max(np.abs(p[n] - T[f"{key}.step{t}.{n}"]))) if p[n].size else 0.0
                    worst = max(worst, e)
                    assert e < 1e-6, (key, t, n, e)
    print(f"optim: numpy float64 vs torch float32 max diff {worst:.1e}")


if __name__ == "__main__":
    main()
