// Elementwise ops over broadcast operands that no texel-wise image kernel covers (elementwise-image.ts):
// an attention mask [B, 1, 1, T] added to scores [B, nh, T, T], a per-row scale [R, 1] times [R, P],
// `where` with a broadcast condition, any stride pattern. Every operand is read through an image (a
// read-only storage texture of it, copied on the queue), indexed like the storage kernels (common.ts
// stridedRuns).
//
// Why: on llvmpipe a storage load costs ~13 ns per lane and an image texel ~1 ns, so the storage
// kernels moved these at 0.84-0.96 GB/s against ~4 for the texel-wise kernels.
//
// Two kernels per op:
//  - by groups of 4 (output innermost axis a multiple of 4): one vec4 store per group; an operand
//    whose innermost stride is 1 (every other stride a multiple of 4) is read a texel at a time
//    (its strides counted in texels), one whose innermost stride is 0 reads its element once per
//    group and repeats it (strides in elements). Which is which: uniforms g_<name>.
//  - by element: any strides.

import {
  EW_WG, UniformLayout, ceilDiv, coalesce, entry, forRun, imageLoad, inp, linearTextureShape, out, runCounts, source, stridedRuns, tex,
  type KernelPlan, type KernelSource, type TextureStep,
} from './common.js';

/** An op: f32 inputs bound in this order, each visible to `expr` as a scalar of its name. */
export interface StridedImageOp {
  /** Source key prefix (unique per expression), e.g. binary:add. */
  key: string;
  inputs: readonly string[];
  /** WGSL expression of one output element from the scalar inputs. */
  expr: string;
  /** WGSL declarations the expression needs. */
  prelude?: string;
}

const layouts = new Map<string, UniformLayout>();
const layoutOf = (inputs: readonly string[]): UniformLayout => {
  const key = inputs.join(',');
  let l = layouts.get(key);
  if (!l) {
    l = new UniformLayout([
      ['shape', 'u32x8'], ...inputs.map((n) => [`st_${n}`, 'i32x8'] as const), ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32'],
      ...inputs.flatMap((n) => [[`sh_${n}`, 'u32'], [`g_${n}`, 'u32']] as const),
    ]);
    layouts.set(key, l);
  }
  return l;
};

/** WGSL ld_<name>(i): element i of the operand (by element), or (groups) texel i / element i repeated, per u.g_<name>. */
const loader = (name: string, groups: boolean) => (groups
  ? `fn ld_${name}(i: i32) -> vec4<f32> {
  let e = u32(i);
  if (u.g_${name} == 1u) { return ${imageLoad(name, 'e')}; }
  return vec4<f32>(${imageLoad(name, 'e >> 2u')}[e & 3u]);
}
`
  : `fn ld_${name}(i: i32) -> f32 {
  let e = u32(i);
  return ${imageLoad(name, 'e >> 2u')}[e & 3u];
}
`);

/** The kernel of `op` by groups of 4 or by element. */
export function stridedImageSource(op: StridedImageOp, groups: boolean): KernelSource {
  const { inputs, expr } = op;
  const layout = layoutOf(inputs);
  const n = inputs.length;
  return source(`${op.key}:image-strided${groups ? '4' : ''}`, () => ({
    wgsl: 'requires readonly_and_readwrite_storage_textures;\n' + (op.prelude ?? '') +
      inputs.map((name, i) => `@group(0) @binding(${i}) var T_${name}: texture_storage_2d<rgba32float, read>;\n`).join('') +
      `@group(0) @binding(${n}) var<storage, read_write> y: array<${groups ? 'vec4<f32>' : 'f32'}>;\n` + layout.wgsl(n + 1) +
      inputs.map((name) => loader(name, groups)).join('') +
      entry(EW_WG, `${stridedRuns(inputs)}
  let o_y = row * n0 + e0;
${forRun((j) => (groups
    ? `${inputs.map((name) => `    let v_${name} = ld_${name}(o_${name} + ${j}i * s0_${name});`).join('\n')}\n    var r: vec4<f32>;
${[0, 1, 2, 3].map((q) => `    { ${inputs.map((name) => `let ${name} = v_${name}[${q}]; `).join('')}r[${q}] = ${expr}; }`).join('\n')}
    y[o_y + ${j}u] = r;`
    : `${inputs.map((name) => `    let ${name} = ld_${name}(o_${name} + ${j}i * s0_${name});`).join('\n')}\n    y[o_y + ${j}u] = ${expr};`))}`),
    bindings: [...inputs.map(() => 'image' as const), 'write' as const], uniform: layout,
  }));
}

/**
 * The plan of out[i] = expr(inputs[..]) over `outShape` with one broadcast stride list (>= 0) per
 * input, or null when an operand does not fit a texture or the output is empty. Groups of 4 when the
 * output's innermost axis is a multiple of 4 long and each operand's innermost stride is 1 (other
 * strides multiples of 4) or 0.
 */
export function stridedImagePlan(op: StridedImageOp, outShape: readonly number[], strides: readonly (readonly number[])[], maxTexDim: number): KernelPlan | null {
  if (outShape.some((n) => n === 0)) return null;
  const c = coalesce(outShape, strides);
  const last = c.shape.length - 1;
  const n0 = c.shape[last]!;
  // g: 1 = the operand is read by texels (innermost stride 1, the rest multiples of 4), 0 = repeated (stride 0).
  const mode = (s: number[]) => (s[last] === 0 ? 0 : s[last] === 1 && s.every((x, d) => d === last || x % 4 === 0) ? 1 : -1);
  const modes = c.strides.map(mode);
  const groups = n0 % 4 === 0 && modes.every((m) => m >= 0);
  const textures: TextureStep[] = [];
  for (const [i, s] of c.strides.entries()) {
    const lastIn = c.shape.reduce((acc, len, d) => acc + (len - 1) * s[d]!, 0);
    const shape = linearTextureShape(ceilDiv(lastIn + 1, 4), maxTexDim);
    if (!shape) return null;
    textures.push({ from: inp(i), texels: ceilDiv(lastIn + 1, 4), width: shape.width, height: shape.height, beforeStep: 0 });
  }
  const shape = groups ? c.shape.map((len, d) => (d === last ? len / 4 : len)) : c.shape;
  const st = groups ? c.strides.map((s, i) => (modes[i] === 1 ? s.map((x, d) => (d === last ? 1 : x / 4)) : s)) : c.strides;
  const { runs, total } = runCounts(shape);
  const perInput = Object.fromEntries(op.inputs.flatMap((name, i) => [
    [`st_${name}`, st[i]!], [`sh_${name}`, Math.log2(textures[i]!.width)], [`g_${name}`, groups ? modes[i]! : 0],
  ]));
  return {
    temps: [],
    textures,
    steps: [{
      source: stridedImageSource(op, groups), bind: [...op.inputs.map((_, i) => tex(i)), out(0)],
      uniforms: { shape, total, rank: shape.length, runs, ...perInput }, workgroups: ceilDiv(total, EW_WG),
    }],
  };
}
