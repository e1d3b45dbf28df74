// Integrity of tests/fixtures (written by tools/reference/make_fixtures.py):
// every file the manifest names parses, the expected files hold what the
// manifest says, gradients have their parameters' shapes, and the whole set
// stays small.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { readSafetensorsFile } from '../../engine/io/safetensors-node.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

interface ModelEntry {
  name: string;
  architecture: string;
  dir: string;
  config: string;
  checkpoint: string;
  expected: string;
  expected_f64: string;
  forward_args: Record<string, string>;
  checkpoint_tensor_count: number;
  tied_not_in_checkpoint: Record<string, string>;
  expected_tensors: string[];
  loss: number;
  loss_f64: number;
}

async function totalSize(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await totalSize(p) : (await stat(p)).size;
  }
  return n;
}

const manifest = JSON.parse(await readFile(join(FIX, 'manifest.json'), 'utf8')) as {
  attention_mask_value: number;
  inputs: { file: string };
  models: ModelEntry[];
};

describe('tests/fixtures', () => {
  it('stays under 8 MB', async () => {
    expect(await totalSize(FIX)).toBeLessThan(8_000_000);
  });

  it('records the float32 attention mask value', () => {
    expect(manifest.attention_mask_value).toBe(-3.4028234663852886e38);
  });

  for (const m of manifest.models) {
    it(`${m.name}: checkpoint, config and expected outputs are consistent`, async () => {
      const dir = join(FIX, m.dir);
      const cfg = JSON.parse(await readFile(join(dir, m.config), 'utf8'));
      expect(cfg.architectures).toEqual([m.architecture]);
      const ckpt = await readSafetensorsFile(join(dir, m.checkpoint));
      expect(ckpt.tensors.size).toBe(m.checkpoint_tensor_count);
      for (const [tied, target] of Object.entries(m.tied_not_in_checkpoint)) {
        expect(ckpt.tensors.has(tied)).toBe(false);
        expect(ckpt.tensors.has(target)).toBe(true);
      }
      const exp = await readSafetensorsFile(join(dir, m.expected));
      expect([...exp.tensors.keys()].sort()).toEqual([...m.expected_tensors].sort());
      const exp64 = await readSafetensorsFile(join(dir, m.expected_f64));
      // every float32 expected tensor's gradient matches its parameter's shape
      for (const [name, t] of exp.tensors) {
        if (name.startsWith('grad.')) {
          const p = ckpt.tensors.get(name.slice(5));
          expect(p, name).toBeDefined();
          expect(t.shape).toEqual(p!.shape);
        }
        const t64 = exp64.tensors.get(name);
        if (t64) {
          expect(t64.dtype).toBe('F64');
          expect(t64.shape).toEqual(t.shape);
        } else {
          expect(name.startsWith('grad.') || name.endsWith('.indices')).toBe(true);
        }
      }
      const L = cfg.num_hidden_layers as number;
      for (let i = 0; i <= L; i++) expect(exp.tensors.get(`hidden_states.${i}`)!.shape).toEqual([3, 11, cfg.hidden_size]);
      expect(exp.tensors.get('loss')!.data[0]).toBeCloseTo(m.loss, 6);
      expect(Math.abs(exp64.tensors.get('loss')!.data[0]! - m.loss_f64)).toBeLessThan(1e-12);
      // float32 vs float64 evaluations agree closely
      expect(Math.abs(m.loss - m.loss_f64)).toBeLessThan(1e-5);
    });
  }

  it('inputs cover every forward argument the manifest names', async () => {
    const inputs = await readSafetensorsFile(join(FIX, manifest.inputs.file));
    for (const m of manifest.models) {
      for (const src of Object.values(m.forward_args)) expect(inputs.tensors.has(src), `${m.name}: ${src}`).toBe(true);
    }
    const mlm = inputs.tensors.get('mlm_labels')!;
    expect([...mlm.data].filter((v) => v === -100).length).toBeGreaterThan(0);
  });
});
