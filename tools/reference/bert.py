"""PyTorch golden reference for BERT, written in plain torch.nn.

Mirrors Hugging Face `transformers` (modeling_bert.py, "eager" attention):
the same module tree, hence the same state_dict names, and the same numerics
(post-LN encoder, erf GELU, additive attention mask
(1 - mask) * torch.finfo(dtype).min, tanh pooler, tied MLM decoder).

Optional product-key memory layers (see pkm.py) are switched on by
`BertConfig.pkm` (a dict, None for plain BERT).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
import torch.nn.functional as F

from pkm import HashingMemory


# --------------------------------------------------------------------------- #
# Activations (HF ACT2FN subset)
# --------------------------------------------------------------------------- #
def gelu(x: torch.Tensor) -> torch.Tensor:
    """HF "gelu": exact erf GELU, x * 0.5 * (1 + erf(x / sqrt(2)))."""
    return F.gelu(x)


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """HF "gelu_new" (tanh approximation, GPT-2 / ALBERT)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT2FN = {
    "gelu": gelu,
    "gelu_new": gelu_new,
    "relu": F.relu,
    "tanh": torch.tanh,
}


# --------------------------------------------------------------------------- #
# Config
# --------------------------------------------------------------------------- #
@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: Optional[float] = None
    num_labels: int = 2
    problem_type: Optional[str] = None  # None | regression | single_label_classification | multi_label_classification
    # Product-key memory (pkm.py); None = plain BERT. Keys: layers (list of
    # layer indices), position ("in" | "after"), heads, k_dim, n_keys, knn,
    # query_batchnorm (bool), batchnorm_eps.
    pkm: Optional[dict] = None

    def to_hf_dict(self, architectures: List[str]) -> dict:
        d = asdict(self)
        num_labels = d.pop("num_labels")
        pkm = d.pop("pkm")
        d = {"architectures": architectures, "model_type": "bert", **d}
        d["id2label"] = {str(i): f"LABEL_{i}" for i in range(num_labels)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(num_labels)}
        d["torch_dtype"] = "float32"
        d["use_cache"] = True
        if pkm is not None:
            d["pkm"] = pkm
        return d


def bert_base_config(**kw) -> BertConfig:
    return BertConfig(**kw)


def bert_large_config(**kw) -> BertConfig:
    return BertConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                      intermediate_size=4096, **kw)


# --------------------------------------------------------------------------- #
# Init (HF BertPreTrainedModel._init_weights)
# --------------------------------------------------------------------------- #
def init_bert_weights(module: nn.Module, initializer_range: float) -> None:
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(mean=0.0, std=initializer_range)
        if module.bias is not None:
            module.bias.data.zero_()
    elif isinstance(module, nn.Embedding):
        module.weight.data.normal_(mean=0.0, std=initializer_range)
        if module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        module.bias.data.zero_()
        module.weight.data.fill_(1.0)


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """HF ModuleUtilsMixin.get_extended_attention_mask for an encoder:
    [B, S] of 1/0 -> [B, 1, 1, S] additive mask, 0 where kept and
    torch.finfo(dtype).min (-3.4028234663852886e38 for float32) where masked."""
    ext = attention_mask[:, None, None, :].to(dtype=dtype)
    return (1.0 - ext) * torch.finfo(dtype).min


# --------------------------------------------------------------------------- #
# Modules
# --------------------------------------------------------------------------- #
class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        # Non-persistent buffers, as in HF >= 4.31: not part of state_dict.
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        seq_length = input_ids.size(1)
        if position_ids is None:
            position_ids = self.position_ids[:, :seq_length]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :seq_length].expand(input_ids.size(0), seq_length)
        emb = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        emb = emb + self.position_embeddings(position_ids)
        emb = self.LayerNorm(emb)
        return self.dropout(emb)


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        if config.hidden_size % config.num_attention_heads != 0:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def transpose_for_scores(self, x):
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask=None):
        q = self.transpose_for_scores(self.query(hidden_states))
        k = self.transpose_for_scores(self.key(hidden_states))
        v = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = F.softmax(scores, dim=-1)
        probs_d = self.dropout(probs)
        ctx = torch.matmul(probs_d, v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(ctx.size()[:-2] + (self.all_head_size,))
        return ctx, probs


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states, attention_mask=None):
        ctx, probs = self.self(hidden_states, attention_mask)
        return self.output(ctx, hidden_states), probs


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertMemoryOutput(nn.Module):
    """Post-LN residual block for a layer whose FFN is replaced by a memory
    (pkm position "in"): LayerNorm(dropout(memory(x)) + x). Only holds the
    LayerNorm so that the name stays `...output.LayerNorm`."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, memory_out, input_tensor):
        return self.LayerNorm(self.dropout(memory_out) + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig, layer_idx: int):
        super().__init__()
        self.attention = BertAttention(config)
        pkm = config.pkm
        self.memory_position: Optional[str] = None
        if pkm is not None and layer_idx in pkm["layers"]:
            self.memory_position = pkm.get("position", "in")
            if self.memory_position not in ("in", "after"):
                raise ValueError(f"pkm position must be 'in' or 'after', got {self.memory_position!r}")
        if self.memory_position == "in":
            # XLM "%i_in": the memory replaces the FFN inside the residual block.
            self.memory = HashingMemory(config.hidden_size, config.hidden_size, k_dim=pkm["k_dim"],
                                        heads=pkm["heads"], knn=pkm["knn"], n_keys=pkm["n_keys"],
                                        query_batchnorm=pkm.get("query_batchnorm", True),
                                        batchnorm_eps=pkm.get("batchnorm_eps", 1e-5))
            self.output = BertMemoryOutput(config)
        else:
            self.intermediate = BertIntermediate(config)
            self.output = BertOutput(config)
            if self.memory_position == "after":
                # XLM "%i_after": x = LN(x + FFN(x)); x = x + memory(x) (no extra LN).
                self.memory = HashingMemory(config.hidden_size, config.hidden_size, k_dim=pkm["k_dim"],
                                            heads=pkm["heads"], knn=pkm["knn"], n_keys=pkm["n_keys"],
                                            query_batchnorm=pkm.get("query_batchnorm", True),
                                            batchnorm_eps=pkm.get("batchnorm_eps", 1e-5))

    def forward(self, hidden_states, attention_mask=None):
        attention_output, probs = self.attention(hidden_states, attention_mask)
        if self.memory_position == "in":
            return self.output(self.memory(attention_output), attention_output), probs
        layer_output = self.output(self.intermediate(attention_output), attention_output)
        if self.memory_position == "after":
            layer_output = layer_output + self.memory(layer_output)
        return layer_output, probs


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config, i) for i in range(config.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask=None):
        all_hidden = [hidden_states]
        all_attn = []
        for layer in self.layer:
            hidden_states, probs = layer(hidden_states, attention_mask)
            all_hidden.append(hidden_states)
            all_attn.append(probs)
        return hidden_states, all_hidden, all_attn


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class BertModel(nn.Module):
    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> Dict[str, object]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        dtype = self.embeddings.word_embeddings.weight.dtype
        ext = extended_attention_mask(attention_mask, dtype)
        emb = self.embeddings(input_ids, token_type_ids, position_ids)
        seq, hidden, attn = self.encoder(emb, ext)
        pooled = self.pooler(seq) if self.pooler is not None else None
        return {"last_hidden_state": seq, "pooler_output": pooled,
                "hidden_states": hidden, "attentions": attn}


class BertPreTrainedModel(nn.Module):
    config: BertConfig

    def init_weights(self):
        rng = self.config.initializer_range
        self.apply(lambda m: init_bert_weights(m, rng))
        for m in self.modules():
            if isinstance(m, HashingMemory):
                m.reset_memory_parameters()
        self.tie_weights()

    def tie_weights(self):
        pass


# ----------------------------- heads --------------------------------------- #
class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias  # tied: cls.predictions.decoder.bias is cls.predictions.bias

    def forward(self, x):
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, x):
        return self.predictions(x)


class BertOnlyNSPHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled):
        return self.seq_relationship(pooled)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, seq, pooled):
        return self.predictions(seq), self.seq_relationship(pooled)


def _mlm_loss(logits, labels, vocab_size):
    return CrossEntropyLoss()(logits.view(-1, vocab_size), labels.view(-1))  # ignore_index=-100


class BertForPreTraining(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.init_weights()

    def tie_weights(self):
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        pred, rel = self.cls(out["last_hidden_state"], out["pooler_output"])
        out.update(prediction_logits=pred, seq_relationship_logits=rel)
        if labels is not None and next_sentence_label is not None:
            mlm = _mlm_loss(pred, labels, self.config.vocab_size)
            nsp = CrossEntropyLoss()(rel.view(-1, 2), next_sentence_label.view(-1))
            out.update(loss=mlm + nsp, mlm_loss=mlm, nsp_loss=nsp)
        return out


class BertForMaskedLM(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.init_weights()

    def tie_weights(self):
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls(out["last_hidden_state"])
        out.update(logits=logits)
        if labels is not None:
            out.update(loss=_mlm_loss(logits, labels, self.config.vocab_size))
        return out


class BertForNextSentencePrediction(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertOnlyNSPHead(config)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls(out["pooler_output"])
        out.update(logits=logits)
        if labels is not None:
            out.update(loss=CrossEntropyLoss()(logits.view(-1, 2), labels.view(-1)))
        return out


def sequence_classification_loss(config, logits, labels):
    """HF problem_type logic of *ForSequenceClassification."""
    num_labels = config.num_labels
    problem_type = config.problem_type
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif num_labels > 1 and labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return MSELoss()(logits.squeeze(), labels.squeeze())
        return MSELoss()(logits, labels)
    if problem_type == "single_label_classification":
        return CrossEntropyLoss()(logits.view(-1, num_labels), labels.view(-1))
    return BCEWithLogitsLoss()(logits, labels)


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(out["pooler_output"]))
        out.update(logits=logits)
        if labels is not None:
            out.update(loss=sequence_classification_loss(self.config, logits, labels))
        return out


class BertForTokenClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(out["last_hidden_state"]))
        out.update(logits=logits)
        if labels is not None:
            # As current HF: plain CE over all positions, -100 ignored (the
            # attention mask is NOT used; label padding positions with -100).
            out.update(loss=CrossEntropyLoss()(logits.view(-1, self.num_labels), labels.view(-1)))
        return out


class BertForQuestionAnswering(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels  # 2
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, start_positions=None, end_positions=None):
        out = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.qa_outputs(out["last_hidden_state"])
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()
        out.update(start_logits=start_logits, end_logits=end_logits)
        if start_positions is not None and end_positions is not None:
            if start_positions.dim() > 1:
                start_positions = start_positions.squeeze(-1)
            if end_positions.dim() > 1:
                end_positions = end_positions.squeeze(-1)
            # Positions outside [0, seq_len] are clamped to seq_len, which is
            # the ignore_index (so they contribute nothing).
            ignored_index = start_logits.size(1)
            start_positions = start_positions.clamp(0, ignored_index)
            end_positions = end_positions.clamp(0, ignored_index)
            loss_fct = CrossEntropyLoss(ignore_index=ignored_index)
            start_loss = loss_fct(start_logits, start_positions)
            end_loss = loss_fct(end_logits, end_positions)
            out.update(loss=(start_loss + end_loss) / 2, start_loss=start_loss, end_loss=end_loss)
        return out


# --------------------------------------------------------------------------- #
# Utilities shared with albert.py / make_fixtures.py
# --------------------------------------------------------------------------- #
def unique_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """state_dict without tied duplicates (first name wins), like HF's
    safetensors save: e.g. cls.predictions.decoder.weight (tied to
    bert.embeddings.word_embeddings.weight) and cls.predictions.decoder.bias
    (tied to cls.predictions.bias) are dropped."""
    seen = set()
    out = {}
    for name, t in model.state_dict(keep_vars=True).items():
        key = (t.data_ptr(), tuple(t.shape), t.dtype)
        if key in seen:
            continue
        seen.add(key)
        out[name] = t.detach()
    return out


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() dedups tied tensors
