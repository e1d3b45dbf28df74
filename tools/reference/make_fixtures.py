#!/usr/bin/python3
"""Regenerate tests/fixtures/ from the PyTorch references in this folder.

    /usr/bin/python3 tools/reference/make_fixtures.py

Deterministic: fixed seeds, one CPU thread, float32 models. See README.md for
what every file holds.
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep tools/reference free of __pycache__

import copy
import json
import math
import os
import shutil
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import albert as A  # noqa: E402
import bert as B  # noqa: E402
import optim_ref  # noqa: E402
from pkm import HashingMemory  # noqa: E402
from safetensors_io import _TORCH_TO_ST, _tensor_bytes, load_file, save_file  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

MASK_VALUE = torch.finfo(torch.float32).min  # -3.4028234663852886e+38
ST_META = {"format": "pt", "generator": "tools/reference/make_fixtures.py"}

# special token ids of the synthetic vocabulary (size 99)
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4

manifest: Dict[str, object] = {}


def rel(path: str) -> str:
    return os.path.relpath(path, FIX)


def write_st(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> Dict:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    meta = dict(ST_META)
    if metadata:
        meta.update(metadata)
    save_file(tensors, path, meta)
    # round-trip self check of the writer
    back, meta_back = load_file(path)
    assert meta_back == meta, path
    assert sorted(back) == sorted(tensors), path
    for k, t in tensors.items():
        tt = t.detach().contiguous()
        assert back[k].dtype == tt.dtype and tuple(back[k].shape) == tuple(tt.shape), (path, k)
        assert _tensor_bytes(back[k]) == _tensor_bytes(tt), (path, k)
    return {k: {"dtype": _TORCH_TO_ST[tensors[k].dtype][0], "shape": list(tensors[k].shape)}
            for k in sorted(tensors)}


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #
def make_inputs() -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(20240601)
    B_, S = 3, 11
    # (len first segment, len second segment); row length = 1 + a + 1 + b + 1
    segs = [(4, 4), (3, 2), (1, 1)]  # lengths 11, 8, 5
    input_ids = torch.full((B_, S), PAD, dtype=torch.long)
    token_type_ids = torch.zeros((B_, S), dtype=torch.long)
    attention_mask = torch.zeros((B_, S), dtype=torch.long)
    for r, (a, b) in enumerate(segs):
        n = 3 + a + b
        words = torch.randint(5, 99, (a + b,), generator=g)
        row = [CLS] + words[:a].tolist() + [SEP] + words[a:].tolist() + [SEP]
        input_ids[r, :n] = torch.tensor(row)
        token_type_ids[r, a + 2:n] = 1
        attention_mask[r, :n] = 1
    original = input_ids.clone()
    # MLM: positions with a label; most replaced by [MASK], one by a random token, one kept.
    mlm_labels = torch.full((B_, S), -100, dtype=torch.long)
    masked = [(0, 2, "mask"), (0, 7, "mask"), (0, 9, "random"), (1, 1, "mask"), (1, 5, "keep"), (2, 3, "mask")]
    for r, c, kind in masked:
        mlm_labels[r, c] = original[r, c]
        if kind == "mask":
            input_ids[r, c] = MASK
        elif kind == "random":
            input_ids[r, c] = (original[r, c] + 17 - 5) % 94 + 5
    token_labels = torch.randint(0, 5, (B_, S), generator=g)
    special = (original == CLS) | (original == SEP) | (attention_mask == 0)
    token_labels[special] = -100
    return {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "attention_mask": attention_mask,
        "mlm_labels": mlm_labels,
        "next_sentence_label": torch.tensor([0, 1, 0]),
        "sentence_order_label": torch.tensor([1, 0, 0]),
        "class_labels": torch.tensor([2, 0, 1]),                      # num_labels = 3
        "regression_labels": torch.tensor([0.5, -1.25, 2.0]),         # num_labels = 1
        "multilabel_labels": torch.tensor([[1., 0., 1., 0.], [0., 0., 0., 1.], [1., 1., 0., 0.]]),  # num_labels = 4
        "token_labels": token_labels,                                 # num_labels = 5, -100 at special/pad
        # row 2's end position (30) lies beyond seq_len: clamped to 11 = ignore_index
        "start_positions": torch.tensor([5, 1, 3]),
        "end_positions": torch.tensor([7, 2, 30]),
    }


# --------------------------------------------------------------------------- #
# Weights
# --------------------------------------------------------------------------- #
def perturb(model: nn.Module, seed: int) -> None:
    """Move parameters that HF initialises to constants (LayerNorm/BatchNorm
    1/0, biases 0, BN running stats) to random values so that every
    parameter influences the outputs. Embedding padding rows stay zero."""
    g = torch.Generator().manual_seed(seed)

    def rnd(t, scale):
        return torch.randn(t.shape, generator=g, dtype=t.dtype) * scale

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)):
                m.weight.add_(rnd(m.weight, 0.1))
                m.bias.copy_(rnd(m.bias, 0.1))
                if isinstance(m, nn.BatchNorm1d):
                    m.running_mean.copy_(rnd(m.running_mean, 0.1))
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                    m.num_batches_tracked.fill_(7)
            elif isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.copy_(rnd(m.bias, 0.1))
        for pname, p in model.named_parameters():
            if pname.endswith("predictions.bias"):
                p.copy_(rnd(p, 0.1))


def share_from(dst: nn.Module, src: nn.Module) -> None:
    """Copy every tensor that dst and src both have (same name) from src."""
    s = src.state_dict()
    with torch.no_grad():
        for k, v in dst.state_dict().items():
            if k in s and s[k].shape == v.shape:
                v.copy_(s[k])


# --------------------------------------------------------------------------- #
# Running one head
# --------------------------------------------------------------------------- #
OUTPUT_KEYS = ["prediction_logits", "seq_relationship_logits", "sop_logits", "logits", "start_logits",
               "end_logits", "loss", "mlm_loss", "nsp_loss", "sop_loss", "start_loss", "end_loss",
               "pooler_output", "embedding_output"]


def run_head(model: nn.Module, kwargs: Dict[str, torch.Tensor], dtype: torch.dtype):
    m = copy.deepcopy(model).to(dtype)
    m.eval()  # dropout off, BatchNorm uses running stats
    for p in m.parameters():
        p.grad = None
    kw = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in kwargs.items()}
    out = m(**kw)
    out["loss"].backward()
    res: Dict[str, torch.Tensor] = {}
    for i, h in enumerate(out["hidden_states"]):
        res[f"hidden_states.{i}"] = h.detach()
    for i, a in enumerate(out["attentions"]):
        res[f"attentions.{i}"] = a.detach()
    for k in OUTPUT_KEYS:
        if out.get(k) is not None:
            res[k] = out[k].detach()
    unused = []
    for name, p in m.named_parameters():
        if p.grad is None:
            unused.append(name)
            res[f"grad.{name}"] = torch.zeros_like(p)
        else:
            res[f"grad.{name}"] = p.grad.detach().clone()
    memories = {}
    for name, mod in m.named_modules():
        if isinstance(mod, HashingMemory):
            layer = int(name.split(".")[3])  # bert.encoder.layer.{i}.memory
            bs, s = kwargs["input_ids"].shape
            res[f"memory.{layer}.indices"] = mod.last_indices.view(bs, s, mod.heads, mod.knn).to(torch.int32)
            res[f"memory.{layer}.weights"] = mod.last_weights.view(bs, s, mod.heads, mod.knn)
            memories[layer] = mod.last_margins
    return res, unused, memories


def check_padding_grad(res, prefix: str):
    g = res[f"grad.{prefix}.embeddings.word_embeddings.weight"]
    assert torch.count_nonzero(g[PAD]) == 0, "padding_idx row must get no gradient"


HeadSpec = Tuple[str, str, Callable[[], nn.Module], Dict[str, str]]


def build_family(family: str, arch_mod, heads: List[HeadSpec], config_factory, inputs, seed: int,
                 pkm_fix_seed: bool = False) -> List[dict]:
    """heads: (subdir, architecture class name, config overrides, {forward arg: input name}).
    The first head is the reference trunk; every other head gets the same
    values for all tensors it shares with it (same names)."""
    entries = []
    trunk = None
    for k, (sub, arch, overrides, argmap) in enumerate(heads):
        cfg = config_factory(**overrides)
        model = None
        for attempt in range(100):
            s = seed + k + 7919 * attempt
            torch.manual_seed(s)
            model = getattr(arch_mod, arch)(cfg)
            perturb(model, s + 1000)
            if trunk is not None or not any(isinstance(m, HashingMemory) for m in model.modules()):
                break
            # PKM: avoid near ties at the top-k boundaries so that a float32
            # engine selects the same memory slots as this reference.
            with torch.no_grad():
                model.eval()
                model(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"])
            margin = min(m.last_margins for m in model.modules() if isinstance(m, HashingMemory))
            if margin >= PKM_MIN_MARGIN:
                break
        else:
            raise RuntimeError("no seed with a safe PKM top-k margin")
        if trunk is None:
            trunk = model
        else:
            share_from(model, trunk)
        kwargs = {a: inputs[n] for a, n in argmap.items()}
        kwargs["input_ids"] = inputs["input_ids"]
        kwargs["attention_mask"] = inputs["attention_mask"]
        kwargs["token_type_ids"] = inputs["token_type_ids"]
        d = os.path.join(FIX, family, sub)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        ckpt = B.unique_state_dict(model)
        write_json(os.path.join(d, "config.json"), cfg.to_hf_dict([arch]))
        ckpt_list = write_st(os.path.join(d, "model.safetensors"), ckpt)
        res32, unused, margins = run_head(model, kwargs, torch.float32)
        res64, _, margins64 = run_head(model, kwargs, torch.float64)
        prefix = "bert" if family.startswith("bert") else "albert"
        tied_decoder = any("decoder.weight" in n for n in model.state_dict())
        if not tied_decoder:
            # padding_idx: the [PAD] row gets no gradient from the lookup. (With a
            # tied MLM decoder it does get one, through the logit of token 0.)
            check_padding_grad(res32, prefix)
        for key in res32:
            if key.startswith("memory.") and key.endswith(".indices"):
                assert torch.equal(res32[key], res64[key]), f"{family}/{sub}: f32/f64 memory indices differ"
        exp_list = write_st(os.path.join(d, "expected.safetensors"), res32)
        # float64 copies: every output; gradients only for the first head of a family
        res64 = {name: v for name, v in res64.items()
                 if v.is_floating_point() and (k == 0 or not name.startswith("grad."))}
        write_st(os.path.join(d, "expected_f64.safetensors"), res64,
                 {"note": "same model (float32 weights upcast) evaluated in float64"})
        # tied tensors present in the module but absent from the checkpoint
        full = model.state_dict()
        tied = {}
        for name, t in full.items():
            if name not in ckpt:
                for cname, ct in ckpt.items():
                    if ct.data_ptr() == t.data_ptr() and ct.shape == t.shape:
                        tied[name] = cname
        n_params = B.param_count(model)
        entry = {
            "name": f"{family}/{sub}",
            "architecture": arch,
            "dir": f"{family}/{sub}",
            "config": "config.json",
            "checkpoint": "model.safetensors",
            "expected": "expected.safetensors",
            "expected_f64": "expected_f64.safetensors",
            "forward_args": {**{a: n for a, n in argmap.items()}, "input_ids": "input_ids",
                             "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},
            "num_parameters": n_params,
            "checkpoint_tensor_count": len(ckpt_list),
            "tied_not_in_checkpoint": tied,
            "expected_tensors": sorted(exp_list),
            "parameters_without_grad": unused,
            "loss": float(res32["loss"]),
            "loss_f64": float(res64["loss"]),
        }
        if margins:
            entry["pkm_min_topk_margin"] = min(margins.values())
        entries.append(entry)
        print(f"  {family}/{sub:<22} params={n_params:6d} loss={float(res32['loss']):.6f} "
              f"|f32-f64|={abs(float(res32['loss']) - float(res64['loss'])):.2e}"
              + (f" pkm margin={min(margins.values()):.3g}" if margins else ""))
    return entries


def tiny_bert(**kw) -> B.BertConfig:
    base = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2, layer_norm_eps=1e-12,
                pad_token_id=0)
    base.update(kw)
    return B.BertConfig(**base)


def tiny_albert(**kw) -> A.AlbertConfig:
    base = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_hidden_groups=1,
                num_attention_heads=4, intermediate_size=37, inner_group_num=1, hidden_act="gelu_new",
                hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=64,
                type_vocab_size=2, initializer_range=0.2, layer_norm_eps=1e-12, classifier_dropout_prob=0.1,
                pad_token_id=0)
    base.update(kw)
    return A.AlbertConfig(**base)


PKM_MIN_MARGIN = 2e-3

PKM_IN = {"layers": [1], "position": "in", "heads": 2, "k_dim": 16, "n_keys": 8, "knn": 4,
          "query_batchnorm": True, "batchnorm_eps": 1e-5}


def bert_heads() -> List[HeadSpec]:
    return [
        ("pretraining", "BertForPreTraining", {}, {"labels": "mlm_labels", "next_sentence_label": "next_sentence_label"}),
        ("masked_lm", "BertForMaskedLM", {}, {"labels": "mlm_labels"}),
        ("next_sentence", "BertForNextSentencePrediction", {}, {"labels": "next_sentence_label"}),
        ("seq_cls", "BertForSequenceClassification", {"num_labels": 3}, {"labels": "class_labels"}),
        ("seq_regression", "BertForSequenceClassification", {"num_labels": 1}, {"labels": "regression_labels"}),
        ("seq_multilabel", "BertForSequenceClassification",
         {"num_labels": 4, "problem_type": "multi_label_classification"}, {"labels": "multilabel_labels"}),
        ("token_cls", "BertForTokenClassification", {"num_labels": 5}, {"labels": "token_labels"}),
        ("qa", "BertForQuestionAnswering", {"num_labels": 2},
         {"start_positions": "start_positions", "end_positions": "end_positions"}),
    ]


def albert_heads() -> List[HeadSpec]:
    return [
        ("pretraining", "AlbertForPreTraining", {}, {"labels": "mlm_labels", "sentence_order_label": "sentence_order_label"}),
        ("masked_lm", "AlbertForMaskedLM", {}, {"labels": "mlm_labels"}),
        ("seq_cls", "AlbertForSequenceClassification", {"num_labels": 3}, {"labels": "class_labels"}),
    ]


def pkm_heads(pkm: dict) -> List[HeadSpec]:
    return [
        ("pretraining", "BertForPreTraining", {"pkm": pkm},
         {"labels": "mlm_labels", "next_sentence_label": "next_sentence_label"}),
        ("seq_cls", "BertForSequenceClassification", {"pkm": pkm, "num_labels": 3}, {"labels": "class_labels"}),
    ]


# --------------------------------------------------------------------------- #
# Optimizers and schedules
# --------------------------------------------------------------------------- #
def make_optim() -> dict:
    g = torch.Generator().manual_seed(777)
    shapes = {"w0": (4, 3), "w1": (5,), "w2": (2, 2, 2), "w3": (3,)}
    init = {"w0": torch.randn(4, 3, generator=g), "w1": torch.randn(5, generator=g),
            "w2": torch.zeros(2, 2, 2),  # ||w|| = 0 -> LAMB trust ratio 1
            "w3": torch.zeros(3)}        # ||w|| = 0 and grads 0 -> ||update|| = 0 -> ratio 1, no change
    grads = {}
    for t in (1, 2, 3):
        for n, s in shapes.items():
            grads[(n, t)] = torch.zeros(s) if n == "w3" else torch.randn(s, generator=g)
    tensors: Dict[str, torch.Tensor] = {}
    for n in shapes:
        tensors[f"init.{n}"] = init[n]
        for t in (1, 2, 3):
            tensors[f"grad.{t}.{n}"] = grads[(n, t)]

    specs = {
        "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
                 {"class": "torch.optim.Adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}),
        "adamw": (lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
                  {"class": "torch.optim.AdamW", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}),
        "lamb": (lambda ps: optim_ref.Lamb(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01),
                 {"class": "optim_ref.Lamb", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.01,
                  "max_grad_norm": None}),
        "lamb_clip": (lambda ps: optim_ref.Lamb(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01,
                                                max_grad_norm=1.0),
                      {"class": "optim_ref.Lamb", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-6,
                       "weight_decay": 0.01, "max_grad_norm": 1.0}),
        "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                {"class": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
                 "weight_decay": 0.0}),
    }
    info = {}
    for key, (factory, hp) in specs.items():
        params = {n: nn.Parameter(init[n].clone()) for n in shapes}
        opt = factory(list(params.values()))
        ratios = []
        for t in (1, 2, 3):
            for n, p in params.items():
                p.grad = grads[(n, t)].clone()
            opt.step()
            if key.startswith("lamb"):
                ratios.append({n: opt.state[p]["last_trust_ratio"] for n, p in params.items()})
            if t in (1, 3):
                for n, p in params.items():
                    tensors[f"{key}.step{t}.{n}"] = p.detach().clone()
        for n, p in params.items():
            st = opt.state[p]
            for sname in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
                if sname in st and st[sname] is not None:
                    tensors[f"{key}.step3.{sname}.{n}"] = st[sname].detach().clone()
        info[key] = {"hyperparameters": hp}
        if ratios:
            info[key]["trust_ratios"] = ratios

    # schedules: linear warmup/decay (HF) and Noam, 20 steps
    base_lr, warmup, total = 1e-3, 5, 20
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = optim_ref.linear_schedule_with_warmup(opt, warmup, total)
    lin = []
    for step in range(total + 1):
        lr = sched.get_last_lr()[0]
        assert math.isclose(lr, base_lr * optim_ref.linear_warmup_multiplier(step, warmup, total), rel_tol=0, abs_tol=1e-18)
        lin.append(lr)
        opt.step()
        sched.step()
    d_model, n_warm, factor = 32, 8, 1.0
    noam = [optim_ref.noam_lr(s, d_model, n_warm, factor) for s in range(1, 21)]
    schedules = {
        "linear_warmup": {"base_lr": base_lr, "num_warmup_steps": warmup, "num_training_steps": total,
                          "formula": "lr(step) = base_lr * (step/max(1,warmup) if step < warmup else "
                                     "max(0, (total-step)/max(1,total-warmup)))",
                          "steps": list(range(total + 1)), "lr": lin},
        "noam": {"d_model": d_model, "warmup": n_warm, "factor": factor,
                 "formula": "lr(step) = factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)",
                 "steps": list(range(1, 21)), "lr": noam},
    }
    d = os.path.join(FIX, "optim")
    lst = write_st(os.path.join(d, "optim.safetensors"), tensors)
    meta = {"optimizers": info, "schedules": schedules, "param_names": list(shapes),
            "layout": {"init.{name}": "initial values", "grad.{t}.{name}": "gradient fed at step t (1..3)",
                       "{opt}.step{t}.{name}": "parameter after step t (t = 1, 3)",
                       "{opt}.step3.{state}.{name}": "optimizer state after step 3 (exp_avg, exp_avg_sq, "
                                                     "momentum_buffer)"}}
    write_json(os.path.join(d, "optim.json"), meta)
    return {"file": "optim/optim.safetensors", "json": "optim/optim.json", "tensors": lst}


# --------------------------------------------------------------------------- #
# dtype decoding fixture
# --------------------------------------------------------------------------- #
def jnum(x: float):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0 and math.copysign(1.0, x) < 0:
        return "-0"
    return x


def make_dtypes() -> dict:
    f16_bits = [0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0400, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x7E00,
                0x3555, 0x1400, 0xBBFF]
    bf16_bits = [0x0000, 0x8000, 0x3F80, 0xC000, 0x7F7F, 0x0080, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x3EAB,
                 0x4049, 0xC2F7]
    f16 = torch.tensor(f16_bits, dtype=torch.int32).to(torch.int16).view(torch.float16)
    bf16 = torch.tensor(bf16_bits, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    f64 = torch.tensor([math.pi, 1e300, -1e-300, 5e-324, -0.0, float("inf")], dtype=torch.float64)
    f32 = torch.tensor([[1.5, -2.25, 3.0e-45], [float("nan"), 65504.0, -0.0]], dtype=torch.float32)
    i32 = torch.tensor([0, 1, -1, 2147483647, -2147483648], dtype=torch.int32)
    i64 = torch.tensor([0, 1, -1, 2147483647, -2147483648, 123456789], dtype=torch.int64)
    tensors = {"f16": f16, "bf16": bf16, "f64": f64, "f32": f32, "i32": i32, "i64": i64,
               "scalar_f32": torch.tensor(2.5), "empty_f32": torch.zeros(0, 3)}
    d = os.path.join(FIX, "safetensors")
    lst = write_st(os.path.join(d, "dtypes.safetensors"), tensors, {"purpose": "dtype decoding test"})
    write_st(os.path.join(d, "i64_out_of_range.safetensors"),
             {"ok": torch.tensor([1, 2], dtype=torch.int64),
              "too_big": torch.tensor([5, 2 ** 31], dtype=torch.int64)})
    expected = {
        "f16": {"bits": f16_bits, "float32": [jnum(v) for v in f16.float().tolist()]},
        "bf16": {"bits": bf16_bits, "float32": [jnum(v) for v in bf16.float().tolist()]},
        "f64": [jnum(v) for v in f64.tolist()],
        "f32": [jnum(v) for v in f32.view(-1).tolist()],
        "i32": i32.tolist(),
        "i64": i64.tolist(),
        "scalar_f32": 2.5,
        "empty_f32": {"shape": [0, 3]},
        "metadata": {**ST_META, "purpose": "dtype decoding test"},
        "note": "float32 = torch's own conversion (tensor.float()); 'NaN', 'Infinity', '-Infinity', '-0' "
                "spell the special values",
    }
    write_json(os.path.join(d, "dtypes.json"), expected)
    return {"file": "safetensors/dtypes.safetensors", "json": "safetensors/dtypes.json", "tensors": lst,
            "i64_out_of_range": "safetensors/i64_out_of_range.safetensors"}


# --------------------------------------------------------------------------- #
def main():
    print(f"torch {torch.__version__}; writing to {FIX}")
    inputs = make_inputs()
    os.makedirs(FIX, exist_ok=True)
    manifest["generator"] = "tools/reference/make_fixtures.py"
    manifest["torch_version"] = torch.__version__
    manifest["attention_mask_value"] = MASK_VALUE
    manifest["attention_mask_formula"] = "(1 - attention_mask[:, None, None, :]) * torch.finfo(dtype).min"
    manifest["special_tokens"] = {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK}
    manifest["inputs"] = {"file": "inputs.safetensors",
                          "tensors": write_st(os.path.join(FIX, "inputs.safetensors"), inputs)}
    models = []
    print("bert-tiny")
    models += build_family("bert-tiny", B, bert_heads(), tiny_bert, inputs, seed=1000)
    print("albert-tiny")
    models += build_family("albert-tiny", A, albert_heads(), tiny_albert, inputs, seed=2000)
    print("bert-pkm-tiny")
    models += build_family("bert-pkm-tiny", B, pkm_heads(PKM_IN), tiny_bert, inputs, seed=3000)
    print("bert-pkm-after-tiny")
    models += build_family("bert-pkm-after-tiny", B, pkm_heads({**PKM_IN, "position": "after"})[:1], tiny_bert,
                           inputs, seed=4000)
    for e in models:
        if "pkm_min_topk_margin" in e:
            assert e["pkm_min_topk_margin"] >= PKM_MIN_MARGIN, f"{e['name']}: near tie in PKM top-k, pick another seed"
    manifest["models"] = models
    manifest["optim"] = make_optim()
    manifest["safetensors"] = make_dtypes()
    write_json(os.path.join(FIX, "manifest.json"), manifest)
    total = 0
    for dp, _, fs in os.walk(FIX):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
    print(f"total fixture size: {total / 1e6:.2f} MB")
    assert total < 8e6


if __name__ == "__main__":
    main()
