"""PyTorch golden reference for ALBERT (plain torch.nn), mirroring Hugging
Face `transformers` modeling_albert.py (eager attention): factorised
embeddings (size E) projected to H by albert.encoder.embedding_hidden_mapping_in,
num_hidden_layers applications of layer groups (num_hidden_groups groups,
layer i uses group int(i / (num_hidden_layers / num_hidden_groups))), each
group holding inner_group_num AlbertLayers, gelu_new activation, MLM head
H -> E -> vocab with the decoder tied to the (E-sized) word embeddings.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn import CrossEntropyLoss
import torch.nn.functional as F

from bert import ACT2FN, extended_attention_mask, init_bert_weights, sequence_classification_loss


@dataclass
class AlbertConfig:
    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 4096
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    num_attention_heads: int = 64
    intermediate_size: int = 16384
    inner_group_num: int = 1
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout_prob: float = 0.1
    position_embedding_type: str = "absolute"
    pad_token_id: int = 0
    bos_token_id: int = 2
    eos_token_id: int = 3
    num_labels: int = 2
    problem_type: Optional[str] = None

    def to_hf_dict(self, architectures: List[str]) -> dict:
        d = asdict(self)
        num_labels = d.pop("num_labels")
        d = {"architectures": architectures, "model_type": "albert", **d}
        d["id2label"] = {str(i): f"LABEL_{i}" for i in range(num_labels)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(num_labels)}
        d["torch_dtype"] = "float32"
        return d


class AlbertEmbeddings(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.embedding_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
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
        return self.dropout(self.LayerNorm(emb))


class AlbertAttention(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.hidden_size = config.hidden_size
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.attention_dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

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
        ctx = torch.matmul(self.attention_dropout(probs), v).transpose(2, 1).flatten(2)
        projected = self.output_dropout(self.dense(ctx))
        return self.LayerNorm(hidden_states + projected), probs


class AlbertLayer(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = AlbertAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.activation = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None):
        attn_out, probs = self.attention(hidden_states, attention_mask)
        ffn = self.ffn_output(self.activation(self.ffn(attn_out)))
        # NB: HF applies self.dropout to nothing here (dropout lives in attention / embeddings).
        return self.full_layer_layer_norm(ffn + attn_out), probs


class AlbertLayerGroup(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(config) for _ in range(config.inner_group_num)])

    def forward(self, hidden_states, attention_mask=None):
        probs_all = []
        for layer in self.albert_layers:
            hidden_states, probs = layer(hidden_states, attention_mask)
            probs_all.append(probs)
        return hidden_states, probs_all


class AlbertTransformer(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.config = config
        self.embedding_hidden_mapping_in = nn.Linear(config.embedding_size, config.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(config) for _ in range(config.num_hidden_groups)])

    def forward(self, hidden_states, attention_mask=None):
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)
        # As HF: hidden_states[0] is the H-sized projection of the embeddings.
        all_hidden = [hidden_states]
        all_attn = []
        n, g = self.config.num_hidden_layers, self.config.num_hidden_groups
        for i in range(n):
            group_idx = int(i / (n / g))
            hidden_states, probs = self.albert_layer_groups[group_idx](hidden_states, attention_mask)
            all_attn.extend(probs)
            all_hidden.append(hidden_states)
        return hidden_states, all_hidden, all_attn


class AlbertModel(nn.Module):
    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = AlbertEmbeddings(config)
        self.encoder = AlbertTransformer(config)
        if add_pooling_layer:
            self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
            self.pooler_activation = nn.Tanh()
        else:
            self.pooler = None
            self.pooler_activation = None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        dtype = self.embeddings.word_embeddings.weight.dtype
        ext = extended_attention_mask(attention_mask, dtype)
        emb = self.embeddings(input_ids, token_type_ids, position_ids)
        seq, hidden, attn = self.encoder(emb, ext)
        pooled = self.pooler_activation(self.pooler(seq[:, 0])) if self.pooler is not None else None
        return {"embedding_output": emb, "last_hidden_state": seq, "pooler_output": pooled,
                "hidden_states": hidden, "attentions": attn}


class AlbertPreTrainedModel(nn.Module):
    config: AlbertConfig

    def init_weights(self):
        rng = self.config.initializer_range
        self.apply(lambda m: init_bert_weights(m, rng))
        self.tie_weights()

    def tie_weights(self):
        pass


class AlbertMLMHead(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)
        self.activation = ACT2FN[config.hidden_act]
        self.decoder.bias = self.bias  # tied: predictions.decoder.bias is predictions.bias

    def forward(self, x):
        return self.decoder(self.LayerNorm(self.activation(self.dense(x))))


class AlbertSOPHead(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled):
        return self.classifier(self.dropout(pooled))


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM + sentence-order prediction (sop_classifier, num_labels=2)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.config = config
        self.albert = AlbertModel(config)
        self.predictions = AlbertMLMHead(config)
        self.sop_classifier = AlbertSOPHead(config)
        self.init_weights()

    def tie_weights(self):
        self.predictions.decoder.weight = self.albert.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, sentence_order_label=None):
        out = self.albert(input_ids, attention_mask, token_type_ids)
        pred = self.predictions(out["last_hidden_state"])
        sop = self.sop_classifier(out["pooler_output"])
        out.update(prediction_logits=pred, sop_logits=sop)
        if labels is not None and sentence_order_label is not None:
            ce = CrossEntropyLoss()
            mlm = ce(pred.view(-1, self.config.vocab_size), labels.view(-1))
            sop_loss = ce(sop.view(-1, 2), sentence_order_label.view(-1))
            out.update(loss=mlm + sop_loss, mlm_loss=mlm, sop_loss=sop_loss)
        return out


class AlbertForMaskedLM(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.config = config
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
        self.init_weights()

    def tie_weights(self):
        self.predictions.decoder.weight = self.albert.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.albert(input_ids, attention_mask, token_type_ids)
        logits = self.predictions(out["last_hidden_state"])
        out.update(logits=logits)
        if labels is not None:
            out.update(loss=CrossEntropyLoss()(logits.view(-1, self.config.vocab_size), labels.view(-1)))
        return out


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.albert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(out["pooler_output"]))
        out.update(logits=logits)
        if labels is not None:
            out.update(loss=sequence_classification_loss(self.config, logits, labels))
        return out
