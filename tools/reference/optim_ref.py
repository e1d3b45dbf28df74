"""Reference LAMB optimizer and learning-rate schedules.

LAMB (You et al. 2019) as in NVIDIA's BERT recipe (apex FusedLAMB,
adam_w_mode=True, bias_correction=True), per tensor p with gradient g:
    [optional] global clipping: if max_grad_norm is set and
               G = ||all grads||_2 > max_grad_norm: g = g * max_grad_norm / G
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)
    u = m_hat / (sqrt(v_hat) + eps) + weight_decay * p
    ratio = ||p|| / ||u||   (ratio = 1 when ||p|| == 0 or ||u|| == 0)
    p = p - lr * ratio * u
Here the trust ratio is applied to every tensor (apex's use_nvlamb=True; apex
with use_nvlamb=False skips it for groups whose weight_decay is 0).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, List, Optional

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class Lamb(Optimizer):
    def __init__(self, params: Iterable, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.01, max_grad_norm: Optional[float] = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)
        self.max_grad_norm = max_grad_norm

    @torch.no_grad()
    def step(self, closure: Optional[Callable] = None):
        loss = closure() if closure is not None else None
        clip = 1.0
        if self.max_grad_norm is not None:
            sq = torch.zeros((), dtype=torch.float64)
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        sq += p.grad.double().pow(2).sum()
            gnorm = math.sqrt(sq.item())
            if gnorm > self.max_grad_norm:
                clip = self.max_grad_norm / gnorm
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad * clip if clip != 1.0 else p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = m / (1 - beta1 ** t)
                v_hat = v / (1 - beta2 ** t)
                update = m_hat / (v_hat.sqrt() + group["eps"])
                if group["weight_decay"] != 0:
                    update = update + group["weight_decay"] * p
                w_norm = p.norm(2).item()
                u_norm = update.norm(2).item()
                ratio = w_norm / u_norm if (w_norm > 0 and u_norm > 0) else 1.0
                state["last_trust_ratio"] = ratio
                p.add_(update, alpha=-group["lr"] * ratio)
        return loss


def linear_schedule_with_warmup(optimizer, num_warmup_steps: int, num_training_steps: int) -> LambdaLR:
    """HF transformers.get_linear_schedule_with_warmup."""

    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))

    return LambdaLR(optimizer, lr_lambda)


def linear_warmup_multiplier(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def noam_lr(step: int, d_model: int, warmup: int, factor: float) -> float:
    """Noam (Vaswani et al.): factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), step >= 1."""
    return factor * (d_model ** -0.5) * min(step ** -0.5, step * warmup ** -1.5)
