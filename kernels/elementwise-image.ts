// Image-input variants of the memory-bound elementwise kernels (unary, affine, same-shape binary, a tensor
// with a repeated suffix or a scalar, dropout).
//
// On Mesa llvmpipe a storage-buffer load is a per-SIMD-lane scalar loop (~30 ns per vec4 and
// invocation) while a read-only storage-texture ('image') texel load costs ~1 ns and a vec4 store
// ~6 ns. So when the backend uses image strategies (PlanOptions.imageInputs) and the operands are
// whole, contiguous and a multiple of 4 long, one invocation per texel reads its inputs as images
// and writes one vec4: the inputs are copied into textures first (a memcpy on the queue).

import { EW_WG, UniformLayout, ceilDiv, entry, inp, linearTextureShape, out, source, tex, type KernelPlan, type KernelSource, type TextureStep } from './common.js';

const layout = new UniformLayout([
  ['texels', 'u32'], ['sh', 'u32'], ['seed', 'u32'], ['threshold', 'f32'], ['scale', 'f32'], ['shift', 'f32'], ['period', 'u32'], ['sh_c', 'u32'],
]);

export interface ImageElementwise {
  /** Source key (unique per expression). */
  key: string;
  /** Input names, bound in order as images; each component is visible as the scalar `<name>`. */
  inputs: readonly string[];
  /** WGSL expression of one output component from the scalar inputs, `e` (element index) and `u`. */
  expr: string;
  /** WGSL declarations the expression needs (math helpers, the RNG). */
  prelude?: string;
  /** Extra uniforms (seed, threshold, scale, shift). */
  uniforms?: { seed?: number; threshold?: number; scale?: number; shift?: number };
  /**
   * An input that repeats along the output (a broadcast suffix such as a [T, H] table added to every
   * batch row): its texel for output texel t is t % u.period, from its own smaller texture.
   */
  cyclic?: string;
  /**
   * A one-element input broadcast to every output element (x * s with s a device scalar): a texture of
   * one texel, component x read by every invocation. (Its copy takes 16 bytes from the 4-byte storage:
   * WebGPU buffers come from the pool in buckets of at least 256 bytes, as every texel copy of a size
   * that is not a multiple of 4 assumes. A storage binding read at index 0 instead measured 2x slower
   * on llvmpipe: 13 vs 6.6 ms over 7.8M elements.)
   */
  scalar?: string;
}

/** The kernel of `k` (one pipeline whatever the size). */
export function imageElementwiseSource(k: ImageElementwise): KernelSource {
  const n = k.inputs.length;
  return source(`ew-image:${k.key}${k.cyclic ? `:cyclic-${k.cyclic}` : ''}${k.scalar ? `:scalar-${k.scalar}` : ''}`, () => ({
    wgsl: 'requires readonly_and_readwrite_storage_textures;\n' + (k.prelude ?? '') +
      k.inputs.map((name, i) => `@group(0) @binding(${i}) var T_${name}: texture_storage_2d<rgba32float, read>;\n`).join('') +
      `@group(0) @binding(${n}) var<storage, read_write> y: array<vec4<f32>>;\n` + layout.wgsl(n + 1) +
      entry(EW_WG, `  if (gid >= u.texels) { return; }
  let c = vec2<u32>(gid & ((1u << u.sh) - 1u), gid >> u.sh);
${k.inputs.map((name) => (name === k.cyclic
    ? `  let tc_${name} = gid % u.period;\n  let v_${name} = textureLoad(T_${name}, vec2<u32>(tc_${name} & ((1u << u.sh_c) - 1u), tc_${name} >> u.sh_c));`
    : name === k.scalar ? `  let v_${name} = vec4<f32>(textureLoad(T_${name}, vec2<u32>(0u, 0u)).x);`
    : `  let v_${name} = textureLoad(T_${name}, c);`)).join('\n')}
  var r: vec4<f32>;
${[0, 1, 2, 3].map((q) => `  {\n    let e = 4u * gid + ${q}u;\n${k.inputs.map((name) => `    let ${name} = v_${name}[${q}];`).join('\n')}\n    r[${q}] = ${k.expr};\n  }`).join('\n')}
  y[gid] = r;`),
    bindings: [...k.inputs.map(() => 'image' as const), 'write' as const], uniform: layout,
  }));
}

/**
 * Plans `k` over `size` elements, or falls back to `storagePlan` when `size` is not a positive
 * multiple of 4 or too large for a texture. Either way the other kernel is listed in `alternates`,
 * so the pipelines a model creates do not depend on its sizes.
 */
export function imageElementwisePlan(
  k: ImageElementwise, size: number, maxTexDim: number, storagePlan: () => KernelPlan, period = 0, alternates: readonly KernelSource[] = [],
): KernelPlan {
  const src = imageElementwiseSource(k);
  const texels = size / 4;
  const shape = size > 0 && size % 4 === 0 ? linearTextureShape(texels, maxTexDim) : null;
  // The cyclic input's own texture: `period` elements (a multiple of 4 dividing size).
  const cshape = k.cyclic && period > 0 && period % 4 === 0 && size % period === 0 ? linearTextureShape(period / 4, maxTexDim) : null;
  const fallback = storagePlan();
  if (!shape || (k.cyclic && !cshape)) return { ...fallback, alternates: [src, ...alternates] };
  // Every input gets a texture, numbered in input order: the cyclic one its period, the scalar one texel.
  const textures: TextureStep[] = k.inputs.map((name, i) => (name === k.cyclic
    ? { from: inp(i), texels: period / 4, width: cshape!.width, height: cshape!.height, beforeStep: 0 }
    : name === k.scalar ? { from: inp(i), texels: 1, width: 16, height: 1, beforeStep: 0 }
    : { from: inp(i), texels, width: shape.width, height: shape.height, beforeStep: 0 }));
  const bind = k.inputs.map((_, i) => tex(i));
  return {
    temps: [],
    textures,
    steps: [{
      source: src, bind: [...bind, out(0)],
      uniforms: {
        texels, sh: Math.log2(shape.width), seed: k.uniforms?.seed ?? 0, threshold: k.uniforms?.threshold ?? 0, scale: k.uniforms?.scale ?? 0, shift: k.uniforms?.shift ?? 0,
        period: period / 4, sh_c: cshape ? Math.log2(cshape.width) : 0,
      },
      workgroups: ceilDiv(texels, EW_WG),
    }],
    alternates: [...fallback.steps.map((st) => st.source), ...alternates],
  };
}
