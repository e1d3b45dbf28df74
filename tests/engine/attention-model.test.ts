// BERT / ALBERT self-attention runs the fused F.attention unless the caller asks for the attention
// probabilities (outputAttentions), which keeps the composite. Both paths must give the same hidden
// states and parameter gradients (additive float32-min padding mask), on the reference backend and
// on WebGPU (whichever fused variant the adapter picked).

import { describe, expect, it } from 'vitest';

import { F, ReferenceBackend, tensor, type Backend, type Tensor } from '../../engine/index.js';
import { AlbertModel } from '../../models/albert.js';
import { BertModel } from '../../models/bert.js';
import { albertConfig, bertConfig } from '../../models/configs.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const gpu = await tryWebGPU();

const cfg = bertConfig({ vocab_size: 30, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 16 });
const acfg = albertConfig({ vocab_size: 30, embedding_size: 8, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 24, max_position_embeddings: 16 });
const ROWS = [[1, 5, 7, 9, 2, 0, 0], [1, 4, 4, 8, 3, 6, 2]];
const MASK = [[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]];

async function check(backend: Backend, tol: number): Promise<void> {
  for (const model of [new BertModel(cfg, { backend, addPoolingLayer: false }).eval(), new AlbertModel(acfg, { backend }).eval()]) {
    const ids = tensor(Int32Array.from(ROWS.flat()), [2, 7], { backend, dtype: 'i32' });
    const mask = tensor(MASK.flat(), [2, 7], { backend });
    const w = tensor(Array.from({ length: 2 * 7 * 24 }, (_, i) => Math.sin(i)), [2, 7, 24], { backend });
    const runOnce = async (outputAttentions: boolean): Promise<number[][]> => {
      for (const p of model.parameters()) { p.grad?.dispose(); p.grad = null; }
      const out = model.forward({ inputIds: ids, attentionMask: mask, outputAttentions });
      expect(out.attentions === null).toBe(!outputAttentions);
      const h: Tensor = out.lastHiddenState;
      F.sum(F.mul(h, w)).backward();
      const grads = await Promise.all(model.parameters().filter((p) => p.grad).map(async (p) => Array.from(await p.grad!.data())));
      return [Array.from(await h.data()), ...grads];
    };
    const fused = await runOnce(false);
    const composite = await runOnce(true);
    expect(fused.length).toBe(composite.length);
    fused.forEach((a, i) => {
      const b = composite[i];
      const s = b.reduce((m, x) => Math.max(m, Math.abs(x)), 1);
      const e = a.reduce((m, x, j) => Math.max(m, Math.abs(x - b[j])), 0);
      expect(e / s, `${model.constructor.name} tensor ${i}`).toBeLessThan(tol);
    });
  }
}

describe('BERT/ALBERT self-attention: fused path == composite path', () => {
  it('reference backend (float64)', async () => check(new ReferenceBackend(), 1e-10));
  it.skipIf(!gpu)('WebGPU (float32)', async () => check(gpu!, 2e-5));
});
