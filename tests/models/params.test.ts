// Parameter names, shapes and counts from configs alone (no allocation), checked against the
// published sizes (tools/reference/check_param_counts.py) and against built models.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../../engine/index.js';
import {
  ALBERT_ARCHITECTURES, BERT_ARCHITECTURES, albertConfig, albertPreset, bertConfig, bertPreset,
  configFromJson, configToJson, parameterCount, parameterShapes, type Architecture, type ModelConfig,
} from '../../models/configs.js';
import { createModel } from '../../models/auto.js';
import { manifest } from './fixture-helpers.js';

describe('parameter counts from configs (no allocation)', () => {
  it('bert-base BertForSequenceClassification: 201 named tensors, 109,483,778 parameters', () => {
    const ref = new ReferenceBackend();
    const c = bertPreset('base', { num_labels: 2 });
    const shapes = parameterShapes(c, 'BertForSequenceClassification');
    expect(shapes.length).toBe(201);
    expect(parameterCount(c, 'BertForSequenceClassification')).toBe(109_483_778);
    expect(parameterCount(c, 'BertModel')).toBe(109_482_240);
    expect(ref.liveCount()).toBe(0); // nothing was allocated
    expect(shapes[0]).toEqual(['bert.embeddings.word_embeddings.weight', [30522, 768]]);
    expect(shapes.map(([n]) => n)).toContain('bert.encoder.layer.11.attention.self.query.weight');
    expect(new Set(shapes.map(([n]) => n)).size).toBe(201);
  });

  it('bert-large: 393 named tensors, 335,143,938 parameters (~340M)', () => {
    const c = bertPreset('large', { num_labels: 2 });
    expect(parameterShapes(c, 'BertForSequenceClassification').length).toBe(393);
    expect(parameterCount(c, 'BertForSequenceClassification')).toBe(335_143_938);
    expect(parameterCount(c, 'BertModel')).toBe(335_141_888);
  });

  it('presets have the published shapes', () => {
    const dims = (n: Parameters<typeof bertPreset>[0]) => {
      const c = bertPreset(n);
      return [c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size];
    };
    expect(dims('base')).toEqual([12, 768, 12, 3072]);
    expect(dims('large')).toEqual([24, 1024, 16, 4096]);
    expect(dims('small')).toEqual([2, 256, 4, 512]);
    expect(dims('tiny')).toEqual([2, 128, 2, 512]);
    expect(dims('mini')).toEqual([4, 256, 4, 1024]);
    // bert-base BertForPreTraining: the decoder is tied, so only cls.predictions.bias is added.
    expect(parameterCount(bertPreset('base'), 'BertForPreTraining')).toBe(109_482_240 + 30522 + 768 * 768 + 768 + 2 * 768 + 2 * 768 + 2);
    // albert-base-v2: 11.7M parameters in AlbertModel.
    expect(parameterCount(albertPreset('base'), 'AlbertModel')).toBe(11_683_584);
  });

  it('matches the fixture models built by the Python reference', () => {
    for (const e of manifest.models) {
      const cfg = configFromJson(JSON.parse(readText(`tests/fixtures/${e.dir}/config.json`)));
      expect(parameterCount(cfg, e.architecture), e.name).toBe(e.num_parameters);
    }
  });
});

describe('config-driven names equal the built models', () => {
  const ref = new ReferenceBackend();
  const tinyBert = bertConfig({ vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 32, num_labels: 3 });
  const cases: [string, ModelConfig, readonly Architecture[]][] = [
    ['bert', tinyBert, BERT_ARCHITECTURES],
    ['bert+pkm in', { ...tinyBert, pkm: { layers: [1], position: 'in', heads: 2, k_dim: 8, n_keys: 4, knn: 2, query_batchnorm: true, batchnorm_eps: 1e-5 } }, BERT_ARCHITECTURES],
    ['bert+pkm after, no batchnorm', { ...tinyBert, pkm: { layers: [0, 1], position: 'after', heads: 1, k_dim: 4, n_keys: 3, knn: 2, query_batchnorm: false, batchnorm_eps: 1e-5 } }, ['BertForPreTraining']],
    ['albert', albertConfig({ vocab_size: 50, embedding_size: 8, hidden_size: 16, num_hidden_layers: 4, num_hidden_groups: 2, inner_group_num: 2, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 32 }), ALBERT_ARCHITECTURES],
  ];
  for (const [label, cfg, archs] of cases) {
    for (const arch of archs) {
      it(`${label} ${arch}`, () => {
        const m = createModel(cfg, arch, { backend: ref });
        const built = m.namedParameters().map(([n, t]) => [n, [...t.shape]]);
        expect(built).toEqual(parameterShapes(cfg, arch));
        expect(m.numParameters()).toBe(parameterCount(cfg, arch));
        const table = m.parameterTable();
        expect(table).toContain(built[0][0] as string);
        expect(table).toContain(`total trainable parameters: ${parameterCount(cfg, arch).toLocaleString('en-US')}`);
        m.dispose();
        expect(ref.liveCount()).toBe(0);
      });
    }
  }
});

describe('config.json', () => {
  it('round-trips HF fields; num_labels comes from id2label', () => {
    const c = bertConfig({ num_labels: 3, hidden_size: 64, num_attention_heads: 4 });
    const j = configToJson(c, 'BertForSequenceClassification');
    expect(j.architectures).toEqual(['BertForSequenceClassification']);
    expect(j.model_type).toBe('bert');
    expect(Object.keys(j.id2label as object)).toEqual(['0', '1', '2']);
    expect(j).not.toHaveProperty('num_labels');
    expect(j).not.toHaveProperty('pkm');
    const back = configFromJson(JSON.parse(JSON.stringify(j)));
    expect(back).toEqual({ ...c, architectures: ['BertForSequenceClassification'], id2label: j.id2label, label2id: j.label2id });
  });

  it('reads the real bert-base-uncased config.json (old, without pad_token_id/position_embedding_type)', () => {
    const json = {
      architectures: ['BertForMaskedLM'], attention_probs_dropout_prob: 0.1, gradient_checkpointing: false, hidden_act: 'gelu',
      hidden_dropout_prob: 0.1, hidden_size: 768, initializer_range: 0.02, intermediate_size: 3072, layer_norm_eps: 1e-12,
      max_position_embeddings: 512, model_type: 'bert', num_attention_heads: 12, num_hidden_layers: 12, pad_token_id: 0,
      position_embedding_type: 'absolute', transformers_version: '4.6.0.dev0', type_vocab_size: 2, use_cache: true, vocab_size: 30522,
    };
    const c = configFromJson(json);
    expect(c.model_type).toBe('bert');
    expect(c.num_labels).toBe(2);
    expect(parameterShapes(c, 'BertForMaskedLM').length).toBe(5 + 12 * 16 + 5);
  });

  it('rejects what it cannot build', () => {
    expect(() => bertConfig({ hidden_size: 30, num_attention_heads: 4 })).toThrow(/not a multiple of num_attention_heads/);
    expect(() => configFromJson({ model_type: 'roberta' })).toThrow(/roberta/);
    expect(() => bertConfig({ position_embedding_type: 'relative_key' as 'absolute' })).toThrow(/relative_key/);
    expect(() => bertConfig({ pkm: { layers: [15], position: 'in', heads: 1, k_dim: 4, n_keys: 4, knn: 2, query_batchnorm: true, batchnorm_eps: 1e-5 } })).toThrow(/pkm layer 15/);
  });
});

function readText(p: string): string {
  return readFileSync(p, 'utf8');
}
