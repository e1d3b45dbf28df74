// Row-kernel strategies (kernels/rows-strategy.ts): every strategy equals the float64 reference on
// the row kinds, including layernormResidual, rows spanning several texture rows, odd lengths and
// edge labels, rows shorter than a texel (one texel holding several rows), an outlier at a row start;
// results are deterministic; the pipeline set does not depend on sizes. serial-image (read-only
// storage textures) is skipped where the GPU lacks the WGSL feature; its plans never share a source
// with serial-tex's. The adapter heuristic picks image > tex on software / GL adapters.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostArray, KernelSpec, Storage } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { ROW_STRATEGIES, heuristicRowStrategy, planRowKernel, rowStrategySupported, type RowAdapterInfo } from '../../kernels/rows-strategy.js';
import { IMAGE_FEATURE } from '../../kernels/matmul.js';

let gpu: WebGPUBackend;
const ref = new ReferenceBackend();
beforeAll(async () => { gpu = await createNodeBackend({ autotune: false }); });
afterAll(() => gpu.destroy());

type In = { i32?: boolean; data: number[] };
async function run(be: WebGPUBackend | ReferenceBackend, spec: KernelSpec, ins: In[], outs: number[]): Promise<HostArray[]> {
  const xs: Storage[] = ins.map((i) => { const s = be.alloc(i.data.length, i.i32 ? 'i32' : 'f32'); be.write(s, i.i32 ? Int32Array.from(i.data) : Float32Array.from(i.data)); return s; });
  const ys = outs.map((n) => be.alloc(n, 'f32'));
  be.run(spec, xs, ys);
  const r = await Promise.all(ys.map((y) => be.read(y)));
  for (const s of [...xs, ...ys]) be.free(s);
  return r;
}
function close(got: HostArray, want: HostArray, rtol: number, atol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = Math.fround(want[i]!);
    const g = got[i]!;
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) throw new Error(`${what}: [${i}] gpu ${g} ref ${want[i]}`);
  }
}

function cases(rng: SeededRandom): { spec: KernelSpec; ins: In[]; outs: number[]; tol: [number, number] }[] {
  const vals = (n: number, s = 1) => Array.from({ length: n }, () => rng.normal() * s);
  const out: { spec: KernelSpec; ins: In[]; outs: number[]; tol: [number, number] }[] = [];
  for (const [rows, len] of [[3, 1], [9, 1], [6, 2], [7, 3], [17, 5], [5, 7], [4, 64], [5, 10001], [2, 30522], [9, 130], [12, 31], [24, 128]] as const) {
    const n = rows * len;
    const x = vals(n, 3);
    if (len > 4) { x[1] = -Infinity; for (let j = 0; j < len; j++) x[len + j] = -Infinity; } // -inf entry, all -inf row
    const at = Math.sqrt(len) * 1e-6;
    out.push({ spec: { kind: 'softmax', log: false, rows, len }, ins: [{ data: x }], outs: [n], tol: [1e-5, 1e-7] });
    out.push({ spec: { kind: 'softmax', log: true, rows, len }, ins: [{ data: x }], outs: [n], tol: [2e-5, 2e-5] });
    const y = vals(n).map((v) => Math.abs(v) / len);
    out.push({ spec: { kind: 'softmaxBackward', log: false, rows, len }, ins: [{ data: y }, { data: vals(n) }], outs: [n], tol: [1e-5, at] });
    out.push({ spec: { kind: 'softmaxBackward', log: true, rows, len }, ins: [{ data: y.map((v) => (v === y[0] ? -Infinity : Math.log(v))) }, { data: vals(n) }], outs: [n], tol: [1e-4, at * 10] });
    out.push({ spec: { kind: 'softmaxBackward', log: false, rows, len, scale: -0.7 }, ins: [{ data: y }, { data: vals(n) }], outs: [n], tol: [1e-5, at] });
    // maskedSoftmax: a mask row per x row; one shared by groups of rows; none (scale only). Masks
    // hold -inf entries and, with more than one row, an all -inf row (that x row's output is 0).
    const mask = (mrows: number) => {
      const m = vals(mrows * len, 2);
      m[0] = -Infinity;
      if (mrows > 1) for (let j = 0; j < len; j++) m[len + j] = -Infinity;
      return m;
    };
    const ms = (mdims: [number, number, number], mstrides: [number, number, number], scale: number, mrows: number) =>
      out.push({ spec: { kind: 'maskedSoftmax', rows, len, scale, masked: true, mdims, mstrides }, ins: [{ data: x }, { data: mask(mrows) }], outs: [n], tol: [1e-5, 1e-7] });
    ms([1, rows, 1], [0, 1, 0], 0.35, rows);
    if (rows % 3 === 0) ms([1, 3, rows / 3], [0, 1, 0], 1.7, 3); // [B, 1, 1, T] over [B, nh, T, T]
    if (rows % 4 === 0) ms([2, 2, rows / 4], [rows / 4, 0, 1], 0.8, rows / 2); // kept, broadcast, kept
    // A negative scale on finite scores (-inf * -1.5 would be +inf: NaN rows, whose max differs by backend).
    const xf = x.map((v) => (v === -Infinity ? -3 : v));
    out.push({ spec: { kind: 'maskedSoftmax', rows, len, scale: -1.5, masked: false, mdims: [1, 1, 1], mstrides: [0, 0, 0] }, ins: [{ data: xf }, { data: [0] }], outs: [n], tol: [1e-5, 1e-7] });
    const xo = vals(n).map((v) => v + 10);
    if (len > 4) xo[len * (rows - 1)] = 1e4; // an outlier first element (layernorm's shifted block sums)
    out.push({ spec: { kind: 'layernorm', rows, len, eps: 1e-5 }, ins: [{ data: xo }, { data: vals(len) }, { data: vals(len) }], outs: [n, rows, rows], tol: [1e-4, 1e-4] });
    out.push({ spec: { kind: 'layernormResidual', rows, len, eps: 1e-5 }, ins: [{ data: xo }, { data: vals(n) }, { data: vals(len) }, { data: vals(len) }], outs: [n, rows, rows, n], tol: [1e-4, 1e-4] });
    const mean = Array.from({ length: rows }, (_, r) => xo.slice(r * len, (r + 1) * len).reduce((a, b) => a + b, 0) / len);
    out.push({ spec: { kind: 'layernormBackward', rows, len }, ins: [{ data: xo }, { data: vals(len) }, { data: mean }, { data: vals(rows).map((v) => 1 + Math.abs(v)) }, { data: vals(n) }], outs: [n, len, len], tol: [1e-4, 1e-5 * Math.sqrt(n)] });
    const labels = Array.from({ length: rows }, (_, r) => (r === 0 ? -100 : r === 2 ? len + 3 : r === 3 ? -1 : Math.floor(rng.next() * len)));
    const xc = vals(n, 4);
    out.push({ spec: { kind: 'crossEntropy', rows, classes: len, ignoreIndex: -100 }, ins: [{ data: xc }, { i32: true, data: labels }], outs: [rows], tol: [1e-5, 1e-5] });
    out.push({ spec: { kind: 'crossEntropyBackward', rows, classes: len, ignoreIndex: -100 }, ins: [{ data: xc }, { i32: true, data: labels }, { data: vals(rows) }], outs: [n], tol: [1e-5, 1e-6] });
    for (const op of ['sum', 'max'] as const) {
      out.push({ spec: { kind: 'reduce', op, outer: rows, len, inner: 1, scale: 0.5 }, ins: [{ data: xo }], outs: [rows], tol: [1e-5, at * 10] });
      out.push({ spec: { kind: 'reduce', op, outer: 2, len: rows, inner: Math.ceil(len / 2), scale: 2 }, ins: [{ data: vals(2 * rows * Math.ceil(len / 2)) }], outs: [2 * Math.ceil(len / 2)], tol: [1e-5, 1e-5 * rows] });
    }
  }
  return out;
}

describe('row-kernel strategies', () => {
  it('adapter heuristic names a known, supported strategy; the backend starts with it', () => {
    const h = heuristicRowStrategy(gpu.adapter);
    expect(ROW_STRATEGIES).toContain(h);
    expect(rowStrategySupported(h, gpu.adapter.wgslFeatures)).toBe(true);
    expect(gpu.rowStrategy).toBe(process.env['WEBGPU_ROWS']?.trim() || h);
  });
  it('heuristic: serial-image on software / GL adapters with the feature, serial-tex without, workgroup on GPUs', () => {
    const a = (backend: string, description: string, wgslFeatures: string[]): RowAdapterInfo => ({ backend, description, device: '', architecture: '', wgslFeatures });
    expect(heuristicRowStrategy(a('opengles', 'llvmpipe (LLVM 15.0.7, 256 bits)', [IMAGE_FEATURE]))).toBe('serial-image');
    expect(heuristicRowStrategy(a('opengles', 'llvmpipe (LLVM 15.0.7, 256 bits)', []))).toBe('serial-tex');
    expect(heuristicRowStrategy(a('vulkan', 'SwiftShader Device', ['packed_4x8_integer_dot_product']))).toBe('serial-tex');
    expect(heuristicRowStrategy(a('vulkan', 'NVIDIA H100', [IMAGE_FEATURE]))).toBe('workgroup');
    expect(heuristicRowStrategy(a('metal', 'Apple M2', []))).toBe('workgroup');
  });
  it('serial-image and serial-tex plans differ in source keys, binding kinds and the requires directive', () => {
    const specs: KernelSpec[] = [
      { kind: 'softmax', log: false, rows: 3, len: 7 }, { kind: 'softmax', log: true, rows: 3, len: 8 },
      { kind: 'softmaxBackward', log: false, rows: 3, len: 7 }, { kind: 'softmaxBackward', log: true, rows: 3, len: 7 },
      { kind: 'maskedSoftmax', rows: 3, len: 7, scale: 0.5, masked: true, mdims: [1, 3, 1], mstrides: [0, 1, 0] },
      { kind: 'maskedSoftmax', rows: 3, len: 7, scale: 0.5, masked: false, mdims: [1, 1, 1], mstrides: [0, 0, 0] },
      { kind: 'layernorm', rows: 3, len: 7, eps: 1e-5 }, { kind: 'layernormResidual', rows: 3, len: 7, eps: 1e-5 },
      { kind: 'layernormBackward', rows: 3, len: 7 }, { kind: 'crossEntropy', rows: 3, classes: 7, ignoreIndex: -100 },
      { kind: 'crossEntropyBackward', rows: 3, classes: 7, ignoreIndex: -100 },
      { kind: 'reduce', op: 'sum', outer: 3, len: 7, inner: 1, scale: 1 }, { kind: 'reduce', op: 'max', outer: 3, len: 7, inner: 2, scale: 1 },
    ];
    const texKeys = new Set<string>();
    const imageKeys = new Set<string>();
    for (const spec of specs) {
      expect(planRowKernel(spec, 'workgroup', 8192)).toBeNull();
      for (const [strategy, kind, keys] of [['serial-tex', 'texture', texKeys], ['serial-image', 'image', imageKeys]] as const) {
        const plan = planRowKernel(spec, strategy, 8192)!;
        expect(plan, `${strategy} ${spec.kind}`).not.toBeNull();
        for (const src of plan.warm ?? plan.steps.map((s) => s.source)) {
          keys.add(src.key);
          const texBindings = src.bindings.filter((b) => b === 'texture' || b === 'image');
          expect(texBindings.length, src.key).toBeGreaterThan(0);
          expect(texBindings.every((b) => b === kind), src.key).toBe(true);
          expect(src.wgsl.startsWith('requires readonly_and_readwrite_storage_textures;'), src.key).toBe(kind === 'image');
          expect(src.wgsl.includes('texture_storage_2d<rgba32float, read>'), src.key).toBe(kind === 'image');
        }
      }
    }
    expect(texKeys.size).toBe(imageKeys.size);
    for (const k of imageKeys) expect(texKeys.has(k), k).toBe(false);
  });
  it('setRowStrategy rejects unknown names and unsupported strategies', () => {
    expect(() => gpu.setRowStrategy('nope' as never)).toThrow(/unknown row-kernel strategy/);
    if (!rowStrategySupported('serial-image', gpu.adapter.wgslFeatures)) expect(() => gpu.setRowStrategy('serial-image')).toThrow(/lacks/);
  });
  for (const strategy of ROW_STRATEGIES) {
    it(`${strategy}: equals the reference, deterministic`, async (ctx) => {
      if (!rowStrategySupported(strategy, gpu.adapter.wgslFeatures)) ctx.skip();
      gpu.setRowStrategy(strategy);
      for (const c of cases(new SeededRandom(7))) {
        const g = await run(gpu, c.spec, c.ins, c.outs);
        const r = await run(ref as unknown as WebGPUBackend, c.spec, c.ins, c.outs);
        g.forEach((o, i) => close(o, r[i]!, c.tol[0], c.tol[1], `${strategy} ${JSON.stringify(c.spec)} out ${i}`));
        const g2 = await run(gpu, c.spec, c.ins, c.outs);
        g2.forEach((o, i) => expect(Array.from(o)).toEqual(Array.from(g[i]!)));
      }
    }, 120_000);
    it(`${strategy}: pipeline count does not depend on sizes`, async (ctx) => {
      if (!rowStrategySupported(strategy, gpu.adapter.wgslFeatures)) ctx.skip();
      gpu.setRowStrategy(strategy);
      const rng = new SeededRandom(3);
      const counts: number[] = [];
      for (const [rows, len] of [[4, 8], [3, 13], [40, 100], [7, 33]] as const) {
        const n = rows * len;
        await run(gpu, { kind: 'softmax', log: false, rows, len }, [{ data: Array.from({ length: n }, () => rng.normal()) }], [n]);
        await run(gpu, { kind: 'layernormBackward', rows, len }, [{ data: new Array(n).fill(1) }, { data: new Array(len).fill(1) }, { data: new Array(rows).fill(0) }, { data: new Array(rows).fill(1) }, { data: new Array(n).fill(1) }], [n, len, len]);
        await run(gpu, { kind: 'reduce', op: 'sum', outer: rows, len, inner: 2, scale: 1 }, [{ data: new Array(rows * len * 2).fill(1) }], [rows * 2]);
        await run(gpu, { kind: 'maskedSoftmax', rows, len, scale: 0.5, masked: true, mdims: [1, rows, 1], mstrides: [0, 1, 0] }, [{ data: new Array(n).fill(1) }, { data: new Array(n).fill(0) }], [n]);
        counts.push(gpu.pipelineCount());
      }
      expect(new Set(counts).size).toBe(1);
    });
  }
});
