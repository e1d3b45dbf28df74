#!/usr/bin/python3
"""Parameter-count checks against the published BERT sizes.

    /usr/bin/python3 tools/reference/check_param_counts.py

* BertForSequenceClassification, bert-base config (num_labels=2):
  201 named tensors in state_dict == 201 named parameters. The buffers
  embeddings.position_ids / embeddings.token_type_ids are registered with
  persistent=False (as HF >= 4.31), so they are NOT in state_dict; with a
  persistent position_ids buffer (older HF) the count would be 202.
  201 = 5 (embeddings: word, position, token_type, LayerNorm w+b)
      + 12 layers * 16 (q,k,v,attn-out dense, attn LN, intermediate, output dense, output LN; w+b each)
      + 2 (pooler) + 2 (classifier).
  Parameters: 109,483,778 (~110M).
* bert-large (BertForSequenceClassification, num_labels=2): 393 tensors (5 + 24*16 + 4),
  335,143,938 parameters (~340M as in the BERT paper); BertModel alone
  335,141,888.
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import bert as B  # noqa: E402


def counts(cfg: B.BertConfig):
    m = B.BertForSequenceClassification(cfg)
    sd = m.state_dict()
    named = list(m.named_parameters())
    buffers = dict(m.named_buffers())
    n_params = B.param_count(m)
    n_model = B.param_count(m.bert)
    return len(sd), len(named), sorted(buffers), n_params, n_model


def main():
    torch.manual_seed(0)
    base = B.bert_base_config(num_labels=2)
    sd, named, buffers, n, n_model = counts(base)
    print(f"bert-base  SeqCls: state_dict tensors={sd} named_parameters={named} params={n:,} "
          f"(BertModel {n_model:,}); non-persistent buffers (not in state_dict): {buffers}")
    assert sd == 201 and named == 201, (sd, named)
    assert n == 109_483_778 and n_model == 109_482_240, n
    # with a persistent position_ids buffer (HF < 4.31) state_dict has one more entry
    m = B.BertForSequenceClassification(base)
    m.bert.embeddings.register_buffer("position_ids", m.bert.embeddings.position_ids, persistent=True)
    assert len(m.state_dict()) == 202
    del m

    large = B.bert_large_config(num_labels=2)
    sd, named, buffers, n, n_model = counts(large)
    print(f"bert-large SeqCls: state_dict tensors={sd} named_parameters={named} params={n:,} "
          f"(BertModel {n_model:,})")
    assert sd == 393 and named == 393
    assert n == 335_143_938 and n_model == 335_141_888, n
    print("OK")


if __name__ == "__main__":
    main()
