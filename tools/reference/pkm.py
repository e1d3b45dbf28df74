"""Product-key memory (Lample et al. 2019, "Large Memory Layers with Product
Keys"), following XLM's HashingMemory (PKM-layer.ipynb variant: query network
= Linear + optional BatchNorm1d, no query/value dropout by default).

Parameters (names relative to the memory module, e.g.
bert.encoder.layer.1.memory.):
  query_proj.0.weight  [heads*k_dim, input_dim]   Linear
  query_proj.0.bias    [heads*k_dim]
  query_proj.1.weight  [heads*k_dim]              BatchNorm1d (if query_batchnorm)
  query_proj.1.bias    [heads*k_dim]
  query_proj.1.running_mean / running_var [heads*k_dim]   buffers
  query_proj.1.num_batches_tracked []             int64 buffer
  keys                 [heads, 2, n_keys, k_dim/2]
  values.weight        [n_keys**2, v_dim]         EmbeddingBag(mode='sum')

Forward for x of shape [..., input_dim] (bs = prod of leading dims):
  q = query_proj(x.view(bs, input_dim)).view(bs*heads, k_dim)
  per head h: q1 = q[:, :k_dim/2], q2 = q[:, k_dim/2:]
    s1 = q1 @ keys[h,0].T ; s2 = q2 @ keys[h,1].T             [bs, n_keys]
    (s1, i1) = topk(s1, knn); (s2, i2) = topk(s2, knn)         sorted desc
    all_s[a*knn+b] = s1[a] + s2[b]; all_i[a*knn+b] = i1[a]*n_keys + i2[b]
    (s, j) = topk(all_s, knn); idx = all_i[j]                  [bs, knn]
  w = softmax(s) over the knn entries of each (token, head)
  out[t] = sum_{h, k} w[t,h,k] * values[idx[t,h,k]]            [bs, v_dim]
Gradients flow into keys through the selected scores (top-k values) only.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def get_uniform_keys(n_keys: int, dim: int, seed: int) -> np.ndarray:
    """Uniform(-1/sqrt(dim), 1/sqrt(dim)) keys from numpy RandomState(seed),
    as XLM (same bound as nn.Linear's default init)."""
    rng = np.random.RandomState(seed)
    bound = 1 / math.sqrt(dim)
    return rng.uniform(-bound, bound, (n_keys, dim)).astype(np.float32)


class HashingMemory(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, k_dim: int = 256, heads: int = 4, knn: int = 32,
                 n_keys: int = 512, query_batchnorm: bool = True, batchnorm_eps: float = 1e-5):
        super().__init__()
        assert k_dim >= 2 and k_dim % 2 == 0
        assert knn <= n_keys
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.k_dim = k_dim
        self.v_dim = output_dim
        self.n_keys = n_keys
        self.size = n_keys ** 2
        self.heads = heads
        self.knn = knn
        half = k_dim // 2
        self.keys = nn.Parameter(torch.empty(heads, 2, n_keys, half))
        self.values = nn.EmbeddingBag(self.size, self.v_dim, mode="sum", sparse=False)
        layers = [nn.Linear(input_dim, heads * k_dim, bias=True)]
        if query_batchnorm:
            layers.append(nn.BatchNorm1d(heads * k_dim, eps=batchnorm_eps))
        self.query_proj = nn.Sequential(*layers)
        self.reset_memory_parameters()
        # Debug capture of the last forward (indices / weights), see make_fixtures.py
        self.last_indices = None
        self.last_weights = None
        self.last_margins = None

    def reset_memory_parameters(self):
        half = self.k_dim // 2
        keys = np.array([get_uniform_keys(self.n_keys, half, seed=(2 * i + j))
                         for i in range(self.heads) for j in range(2)])
        with torch.no_grad():
            self.keys.copy_(torch.from_numpy(keys).view(self.heads, 2, self.n_keys, half))
            nn.init.normal_(self.values.weight, mean=0, std=self.v_dim ** -0.5)

    def _get_indices(self, query, subkeys):
        bs = query.size(0)
        knn = self.knn
        half = self.k_dim // 2
        n_keys = subkeys[0].size(0)
        q1 = query[:, :half]
        q2 = query[:, half:]
        scores1 = F.linear(q1, subkeys[0])                    # (bs, n_keys)
        scores2 = F.linear(q2, subkeys[1])
        # margins between the knn-th and (knn+1)-th scores (tie safety check)
        margins = []
        if knn < n_keys:
            for s in (scores1, scores2):
                srt = s.detach().sort(dim=1, descending=True).values
                margins.append((srt[:, knn - 1] - srt[:, knn]).min().item())
        scores1, indices1 = scores1.topk(knn, dim=1)          # (bs, knn) sorted desc
        scores2, indices2 = scores2.topk(knn, dim=1)
        all_scores = (scores1.view(bs, knn, 1).expand(bs, knn, knn)
                      + scores2.view(bs, 1, knn).expand(bs, knn, knn)).reshape(bs, -1)
        all_indices = (indices1.view(bs, knn, 1).expand(bs, knn, knn) * n_keys
                       + indices2.view(bs, 1, knn).expand(bs, knn, knn)).reshape(bs, -1)
        if knn < knn * knn:
            srt = all_scores.detach().sort(dim=1, descending=True).values
            margins.append((srt[:, knn - 1] - srt[:, knn]).min().item())
        scores, best = torch.topk(all_scores, k=knn, dim=1)  # (bs, knn)
        indices = all_indices.gather(1, best)
        return scores, indices, margins

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        assert input.shape[-1] == self.input_dim
        prefix_shape = input.shape[:-1]
        bs = int(np.prod(prefix_shape))
        query = self.query_proj(input.contiguous().view(-1, self.input_dim))  # (bs, heads*k_dim)
        query = query.view(bs, self.heads, self.k_dim)
        outs = [self._get_indices(query[:, h], self.keys[h]) for h in range(self.heads)]
        scores = torch.stack([o[0] for o in outs], 1)        # (bs, heads, knn)
        indices = torch.stack([o[1] for o in outs], 1)       # (bs, heads, knn)
        margins = [m for o in outs for m in o[2]]
        # XLM: F.softmax(scores.float()).type_as(scores), i.e. at least float32
        # (float64 stays float64 here so the float64 reference is exact).
        weights = F.softmax(scores if scores.dtype == torch.float64 else scores.float(), dim=-1).type_as(scores)
        self.last_indices = indices.detach()
        self.last_weights = weights.detach()
        self.last_margins = min(margins) if margins else float("inf")
        output = self.values(indices.view(bs, self.heads * self.knn),
                             per_sample_weights=weights.view(bs, self.heads * self.knn))
        return output.view(prefix_shape + (self.v_dim,))
