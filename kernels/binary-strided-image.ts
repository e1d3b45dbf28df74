// Broadcast binary ops whose operands no texel-wise image kernel covers (elementwise-image.ts): an
// attention mask [B, 1, 1, T] added to scores [B, nh, T, T], a per-row scale [R, 1] times [R, P],
// any stride pattern. Both operands are read through images (a read-only storage texture of each
// operand, copied on the queue), indexed like the storage kernel (common.ts stridedRuns).
//
// Why: on llvmpipe a storage load costs ~13 ns per lane and an image texel ~1 ns, so the storage
// kernel moved these at 0.84-0.87 GB/s against ~4 for the texel-wise kernels.
//
// Two kernels per op:
//  - by groups of 4 (output innermost axis a multiple of 4): one vec4 store per group; an operand
//    whose innermost stride is 1 (every other stride a multiple of 4) is read a texel at a time
//    (its strides counted in texels), one whose innermost stride is 0 reads its element once per
//    group and repeats it (strides in elements). Which is which: uniforms g_a, g_b.
//  - by element: any strides.

import type { BinaryOp } from '../engine/backend/spec.js';
import {
  EW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, coalesce, entry, forRun, inp, linearTextureShape, out, runCounts, source, stridedRuns, tex,
  type KernelPlan, type KernelSource, type TextureStep,
} from './common.js';
import { WGSL_MATH } from './math.js';

const layout = new UniformLayout([
  ['shape', 'u32x8'], ['st_a', 'i32x8'], ['st_b', 'i32x8'], ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32'],
  ['sh_a', 'u32'], ['sh_b', 'u32'], ['g_a', 'u32'], ['g_b', 'u32'],
]);

const texel = (name: string, t: string) => `textureLoad(T_${name}, vec2<u32>((${t}) & ((1u << u.sh_${name}) - 1u), (${t}) >> u.sh_${name}))`;
/** WGSL ld_<name>(i): element i of the operand (by element), or (groups) texel i / element i repeated, per u.g_<name>. */
const loader = (name: string, groups: boolean) => (groups
  ? `fn ld_${name}(i: i32) -> vec4<f32> {
  let e = u32(i);
  if (u.g_${name} == 1u) { return ${texel(name, 'e')}; }
  return vec4<f32>(${texel(name, 'e >> 2u')}[e & 3u]);
}
`
  : `fn ld_${name}(i: i32) -> f32 {
  let e = u32(i);
  return ${texel(name, 'e >> 2u')}[e & 3u];
}
`);

/** The kernel of `op` (expression `expr` of scalars a, b) by groups of 4 or by element. */
export function stridedImageBinarySource(op: BinaryOp, expr: string, groups: boolean): KernelSource {
  return source(`binary:${op}:image-strided${groups ? '4' : ''}`, () => ({
    wgsl: 'requires readonly_and_readwrite_storage_textures;\n' + WGSL_SPECIALS + WGSL_MATH +
      '@group(0) @binding(0) var T_a: texture_storage_2d<rgba32float, read>;\n@group(0) @binding(1) var T_b: texture_storage_2d<rgba32float, read>;\n' +
      `@group(0) @binding(2) var<storage, read_write> y: array<${groups ? 'vec4<f32>' : 'f32'}>;\n` + layout.wgsl(3) + loader('a', groups) + loader('b', groups) +
      entry(EW_WG, `${stridedRuns(['a', 'b'])}
  let o_y = row * n0 + e0;
${forRun((j) => (groups
    ? `    let va = ld_a(o_a + ${j}i * s0_a);\n    let vb = ld_b(o_b + ${j}i * s0_b);\n    var r: vec4<f32>;
${[0, 1, 2, 3].map((q) => `    { let a = va[${q}]; let b = vb[${q}]; r[${q}] = ${expr}; }`).join('\n')}
    y[o_y + ${j}u] = r;`
    : `    let a = ld_a(o_a + ${j}i * s0_a);\n    let b = ld_b(o_b + ${j}i * s0_b);\n    y[o_y + ${j}u] = ${expr};`))}`),
    bindings: ['image', 'image', 'write'], uniform: layout,
  }));
}

/**
 * The plan of out[i] = expr(a[..], b[..]) over `outShape` with broadcast strides (>= 0), or null when
 * an operand does not fit a texture. Groups of 4 when the output's innermost axis is a multiple of 4
 * long and each operand's innermost stride is 1 (other strides multiples of 4) or 0. Null too for
 * an empty output.
 */
export function stridedImageBinaryPlan(
  op: BinaryOp, expr: string, outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[], maxTexDim: number,
): KernelPlan | null {
  if (outShape.some((n) => n === 0)) return null;
  const c = coalesce(outShape, [aStrides, bStrides]);
  const last = c.shape.length - 1;
  const n0 = c.shape[last]!;
  // g: 1 = the operand is read by texels (innermost stride 1, the rest multiples of 4), 0 = repeated (stride 0).
  const mode = (s: number[]) => (s[last] === 0 ? 0 : s[last] === 1 && s.every((x, d) => d === last || x % 4 === 0) ? 1 : -1);
  const modes = c.strides.map(mode);
  const groups = n0 % 4 === 0 && modes.every((m) => m >= 0);
  const textures: TextureStep[] = [];
  for (const [i, s] of c.strides.entries()) {
    const lastIn = c.shape.reduce((acc, n, d) => acc + (n - 1) * s[d]!, 0);
    const shape = linearTextureShape(ceilDiv(lastIn + 1, 4), maxTexDim);
    if (!shape) return null;
    textures.push({ from: inp(i), texels: ceilDiv(lastIn + 1, 4), width: shape.width, height: shape.height, beforeStep: 0 });
  }
  const shape = groups ? c.shape.map((n, d) => (d === last ? n / 4 : n)) : c.shape;
  const strides = groups ? c.strides.map((s, i) => (modes[i] === 1 ? s.map((x, d) => (d === last ? 1 : x / 4)) : s)) : c.strides;
  const { runs, total } = runCounts(shape);
  const src = stridedImageBinarySource(op, expr, groups);
  return {
    temps: [],
    textures,
    steps: [{
      source: src, bind: [tex(0), tex(1), out(0)],
      uniforms: {
        shape, st_a: strides[0]!, st_b: strides[1]!, total, rank: shape.length, runs,
        sh_a: Math.log2(textures[0]!.width), sh_b: Math.log2(textures[1]!.width), g_a: groups ? modes[0]! : 0, g_b: groups ? modes[1]! : 0,
      },
      workgroups: ceilDiv(total, EW_WG),
    }],
    alternates: [stridedImageBinarySource(op, expr, !groups)],
  };
}
