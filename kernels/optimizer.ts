// Fused optimizer updates, one dispatch per large parameter tensor (Adam/AdamW) or two (LAMB) and
// one for all the small tensors of a group together, instead of ~10 elementwise dispatches each. Arithmetic in the composite's order (engine/optim/optimizer.ts)
// so results agree with it to float32 rounding.
//   adamStep:   one invocation per element: reads p, g, m, v; writes p', m', v'. Several tensors (all
//               under PACKED_MAX_SIZE) are packed into temps by buffer copies and updated by one dispatch.
//   lambStep:   the whole LAMB step of several small tensors in one dispatch, one workgroup per tensor.
//   lambStats:  `parts` workgroups, each over one contiguous chunk: writes m', v' and the chunk's
//               sums of p^2 and u^2 (fixed tree reduction: deterministic, no atomics).
//   lambApply:  at most 128 workgroups looping over the elements; every workgroup sums the partials in the same fixed
//               order (parts <= 256), so all agree on ||p||, ||u|| and the trust ratio.
// adamStep (one tensor), lambStats and lambApply have an image variant (inputs read as read-only storage
// textures, vec4 outputs) for tensors of at least ADAM_IMAGE_MIN_SIZE elements where the backend reads images (llvmpipe: storage loads are per-lane loops).

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  EW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, linearTextureShape, out, packCopies, source, storage, tex, tmp, wgReduce,
  type BufRef, type KernelPlan, type KernelSource,
} from './common.js';

const adamLayout = new UniformLayout([
  ['size', 'u32'], ['lr', 'f32'], ['b1', 'f32'], ['b2', 'f32'], ['omb1', 'f32'], ['omb2', 'f32'],
  ['ibc1', 'f32'], ['isbc2', 'f32'], ['eps', 'f32'], ['wd', 'f32'], ['decay', 'f32'],
]);
const adamImageLayout = new UniformLayout([
  ['size', 'u32'], ['lr', 'f32'], ['b1', 'f32'], ['b2', 'f32'], ['omb1', 'f32'], ['omb2', 'f32'],
  ['ibc1', 'f32'], ['isbc2', 'f32'], ['eps', 'f32'], ['wd', 'f32'], ['decay', 'f32'], ['texels', 'u32'], ['sh', 'u32'],
]);
const storage4 = (binding: number, name: string) => `@group(0) @binding(${binding}) var<storage, read_write> ${name}: array<vec4<f32>>;\n`;

const lambLayout = new UniformLayout([
  ['size', 'u32'], ['parts', 'u32'], ['chunk', 'u32'], ['lr', 'f32'], ['b1', 'f32'], ['b2', 'f32'], ['omb1', 'f32'], ['omb2', 'f32'],
  ['ibc1', 'f32'], ['isbc2', 'f32'], ['eps', 'f32'], ['wd', 'f32'], ['stride', 'u32'],
]);

/** lambLayout plus the image variants' texel count and texture width shift (chunk and stride then count texels). */
const lambImageLayout = new UniformLayout([...lambLayout.fields, ['texels', 'u32'], ['sh', 'u32']]);

/** Maximum number of LAMB partial sums (one workgroup reduces them all). */
export const LAMB_MAX_PARTS = 256;
/** Partial count the optimizer uses for a tensor of `size` elements. */
export const lambParts = (size: number): number => Math.max(1, Math.min(LAMB_MAX_PARTS, ceilDiv(size, 4096)));

/** lambApply's workgroups: each re-reduces the partials, so few of them, each looping over elements. */
const applyGroups = (size: number) => Math.min(ceilDiv(size, EW_WG), 128);

const DIR = `fn direction(m: f32, v: f32) -> f32 { return (m * u.ibc1) / (sqrt(v) * u.isbc2 + u.eps); }`;

const DIR4 = `fn direction4(m: vec4<f32>, v: vec4<f32>) -> vec4<f32> { return (m * u.ibc1) / (sqrt(v) * u.isbc2 + u.eps); }`;

/**
 * The shape of the image variants' textures (inputs read as read-only storage textures, vec4 outputs)
 * for a tensor of `size` elements: at least ADAM_IMAGE_MIN_SIZE, a multiple of 4, fitting a texture;
 * null otherwise (the storage kernels run). Storage loads made LAMB 7.5x slower than Adam on llvmpipe
 * (a BERT-small step's update 498 vs 66 ms).
 */
function imageShape(size: number, image: { maxTexDim: number } | undefined): { texels: number; width: number; height: number; sh: number } | null {
  if (!image || size % 4 !== 0 || size < ADAM_IMAGE_MIN_SIZE) return null;
  const shape = linearTextureShape(size / 4, image.maxTexDim);
  return shape && { texels: size / 4, ...shape, sh: Math.log2(shape.width) };
}
/** The `requires` directive and read-only storage-texture bindings T<name> 0.. of an image variant. */
const imageDecl = (names: string[]) => 'requires readonly_and_readwrite_storage_textures;\n' +
  names.map((n, i) => `@group(0) @binding(${i}) var T${n}: texture_storage_2d<rgba32float, read>;\n`).join('');
/** The texture steps of an image variant's first `n` inputs. */
const imageTextures = (n: number, im: { texels: number; width: number; height: number }) =>
  [...Array(n).keys()].map((i) => ({ from: inp(i), texels: im.texels, width: im.width, height: im.height, beforeStep: 0 }));
/** The plan of an image kernel reading p, g, m, v as textures and writing three outputs (adamStep, lambStats). */
function imagePlan(src: KernelSource, im: { texels: number; width: number; height: number; sh: number }, uniforms: Record<string, number>, workgroups: number): KernelPlan {
  return {
    temps: [],
    textures: imageTextures(4, im),
    steps: [{ source: src, bind: [tex(0), tex(1), tex(2), tex(3), out(0), out(1), out(2)], uniforms: { ...uniforms, texels: im.texels, sh: im.sh }, workgroups }],
  };
}
/** WGSL: c = the image coordinate of texel `t` (a linear array of width 2^u.sh). */
const coord = (t: string) => `    let c = vec2<u32>(${t} & ((1u << u.sh) - 1u), ${t} >> u.sh);`;

type AdamSpec = Extract<KernelSpec, { kind: 'adamStep' }>;
function adamUniforms(spec: AdamSpec, size: number) {
  return {
    size, lr: spec.lr, b1: spec.beta1, b2: spec.beta2, omb1: 1 - spec.beta1, omb2: 1 - spec.beta2,
    ibc1: 1 / spec.bc1, isbc2: 1 / Math.sqrt(spec.bc2), eps: spec.eps, wd: spec.weightDecay, decay: 1 - spec.lr * spec.weightDecay,
  };
}

/**
 * Smallest tensor (elements) that takes the image path: below it the four texture copies cost more
 * than the storage kernel's per-lane loads (llvmpipe, the SST-2 demo model's 25 tensors, in-process:
 * optimizer step 7.4 -> 6.7 ms median, 5.8 -> 4.4 ms at the minima; BERT-small's 41 within noise).
 */
export const ADAM_IMAGE_MIN_SIZE = 4096;

/**
 * `image`: read p, g, m, v as read-only storage textures (one texel = 4 elements) and write vec4s.
 * On llvmpipe a storage-buffer load is a per-lane scalar loop (~30 ns per vec4 and invocation)
 * while an image texel load is ~1 ns and a vec4 store ~6 ns: Adam moves 7 values per element, so
 * this is the difference between ~50 and ~10 ns per element (the 7.8M-entry embedding table of
 * BERT). Needs size % 4 == 0, at least ADAM_IMAGE_MIN_SIZE elements and a texture large enough;
 * otherwise the storage kernel runs.
 */
export function adamStepKernel(spec: AdamSpec, image?: { maxTexDim: number }): KernelPlan {
  const l2 = !spec.decoupled && spec.weightDecay !== 0;
  const dec = spec.decoupled && spec.weightDecay !== 0;
  const size = spec.sizes.reduce((a, b) => a + b, 0);
  const im = spec.sizes.length === 1 ? imageShape(size, image) : null;
  if (im) {
    const variant = l2 ? 'l2' : dec ? 'decoupled' : 'plain';
    const src = source(`adamStep:image:${variant}`, () => ({
      wgsl: imageDecl(['p', 'g', 'm', 'v']) + storage4(4, 'p2') + storage4(5, 'm2') + storage4(6, 'v2') + adamImageLayout.wgsl(7) + DIR4 + '\n' +
        entry(EW_WG, `  if (gid >= u.texels) { return; }
${coord('gid')}
  let pv = textureLoad(Tp, c);
  let gr = ${l2 ? 'textureLoad(Tg, c) + pv * u.wd' : 'textureLoad(Tg, c)'};
  let mn = textureLoad(Tm, c) * u.b1 + gr * u.omb1;
  let vn = textureLoad(Tv, c) * u.b2 + (gr * gr) * u.omb2;
  m2[gid] = mn;
  v2[gid] = vn;
  p2[gid] = ${dec ? 'pv * u.decay' : 'pv'} - direction4(mn, vn) * u.lr;`),
      bindings: ['image', 'image', 'image', 'image', 'write', 'write', 'write'], uniform: adamImageLayout,
    }));
    return imagePlan(src, im, adamUniforms(spec, size), ceilDiv(im.texels, EW_WG));
  }
  const src = source(`adamStep:${l2 ? 'l2' : dec ? 'decoupled' : 'plain'}`, () => ({
    wgsl: storage(0, 'p', 'f32', 'read') + storage(1, 'g', 'f32', 'read') + storage(2, 'm', 'f32', 'read') + storage(3, 'v', 'f32', 'read') +
      storage(4, 'p2', 'f32', 'write') + storage(5, 'm2', 'f32', 'write') + storage(6, 'v2', 'f32', 'write') + adamLayout.wgsl(7) + DIR + '\n' +
      entry(EW_WG, `  if (gid >= u.size) { return; }
  let pv = p[gid];
  let gr = ${l2 ? 'g[gid] + pv * u.wd' : 'g[gid]'};
  let mn = m[gid] * u.b1 + gr * u.omb1;
  let vn = v[gid] * u.b2 + (gr * gr) * u.omb2;
  m2[gid] = mn;
  v2[gid] = vn;
  p2[gid] = ${dec ? 'pv * u.decay' : 'pv'} - direction(mn, vn) * u.lr;`),
    bindings: ['read', 'read', 'read', 'read', 'write', 'write', 'write'], uniform: adamLayout,
  }));
  return packedPlan(spec.sizes, 0, src, adamUniforms(spec, size), ceilDiv(size, EW_WG));
}

/**
 * Largest tensor (elements) the optimizers pack with others into one dispatch: below it a dispatch's
 * fixed cost is most of the tensor's update (llvmpipe, BERT-small's 24 tensors under 4096 elements:
 * 24 dispatches 1.8-2.4 ms, one dispatch over the same elements packed 0.4 ms; buffer copies ~2.5-5 us
 * each). Larger tensors keep their own dispatch (image kernels on llvmpipe: one dispatch over all 9M
 * parameters measured slower than 39, 70 vs 49 ms).
 */
export const PACKED_MAX_SIZE = ADAM_IMAGE_MIN_SIZE;

/**
 * A plan running `src` once over N tensors with `inputs` (4 per tensor) then `extra` further inputs bound
 * as they are, and 3 outputs per tensor: with N = 1 the tensors are bound directly; otherwise buffer
 * copies pack each input into a temp (tensor k at word offset off[k]), and the outputs are copied
 * out of temps after the dispatch.
 */
function packedPlan(sizes: readonly number[], extra: number, src: KernelSource, uniforms: Record<string, number>, workgroups: number): KernelPlan {
  const n = sizes.length;
  const extras = [...Array(extra).keys()].map((j) => inp(4 * n + j));
  if (n === 1) {
    return { temps: [], steps: [{ source: src, bind: [inp(0), inp(1), inp(2), inp(3), ...extras, out(0), out(1), out(2)], uniforms, workgroups }] };
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  // Input j of every tensor into temp j before the dispatch; output j of every tensor out of temp 4 + j after it.
  const copies = [
    ...[0, 1, 2, 3].flatMap((j) => packCopies(sizes, (k) => inp(4 * k + j), tmp(j), 'pack', 0)),
    ...[0, 1, 2].flatMap((j) => packCopies(sizes, (k) => out(3 * k + j), tmp(4 + j), 'unpack', 1)),
  ];
  const packed: BufRef[] = [0, 1, 2, 3].map(tmp);
  return {
    temps: Array(7).fill(Math.max(1, total)),
    copies,
    steps: [{ source: src, bind: [...packed, ...extras, tmp(4), tmp(5), tmp(6)], uniforms, workgroups }],
  };
}

function lambUniforms(spec: { size: number; parts: number; eps: number; bc1: number; bc2: number; weightDecay: number }, extra: { lr: number; b1: number; b2: number }) {
  return {
    size: spec.size, parts: spec.parts, chunk: ceilDiv(spec.size, spec.parts), lr: extra.lr, b1: extra.b1, b2: extra.b2,
    omb1: 1 - extra.b1, omb2: 1 - extra.b2, ibc1: 1 / spec.bc1, isbc2: 1 / Math.sqrt(spec.bc2), eps: spec.eps, wd: spec.weightDecay,
    stride: applyGroups(spec.size) * EW_WG,
  };
}

/**
 * Workgroup size of the LAMB image variants, and of lambStats' and lambStep's storage kernels on software
 * adapters: one llvmpipe SIMD group, whose workgroup sums need no switching between a group's coroutines
 * at each barrier. 64-lane workgroups spent most of the update there: the embedding's lambStats 58-65 ->
 * 20 ms (256 parts), lambApply 33 -> 11.5 ms; lambStep over BERT-small's 24 small tensors 2.3 -> 1.4 ms
 * with 8 lanes instead of 256.
 */
const IMAGE_WG = 8;
/** Lanes of the storage kernels with workgroup sums: IMAGE_WG on software adapters (`image` set), EW_WG elsewhere. */
const softLanes = (image: unknown) => (image ? IMAGE_WG : EW_WG);
/**
 * lambStats' body: the lanes of workgroup wgid walk its chunk [start, end) of `count` items (elements or
 * texels) `lanes` apart with `step` (index i; it adds to sp, su), then store the part's two sums.
 */
const statsBody = (lanes: number, count: string, step: string) => `  if (wgid >= u.parts) { return; }
  let start = wgid * u.chunk;
  let end = min(start + u.chunk, ${count});
  var sp = 0.0;
  var su = 0.0;
  for (var i = start + lid; i < end; i = i + ${lanes}u) {
${step}
  }
  let tp = wg_sum(sp, lid);
  let tu = wg_sum(su, lid);
  if (lid == 0u) { part[2u * wgid] = tp; part[2u * wgid + 1u] = tu; }`;

/** lambStats' storage step for element i: the new moments (stored) and the sums of p^2 and u^2. */
const STATS_STEP = `    let gr = g[i];
    let mn = m[i] * u.b1 + gr * u.omb1;
    let vn = v[i] * u.b2 + (gr * gr) * u.omb2;
    m2[i] = mn;
    v2[i] = vn;
    let pv = p[i];
    let uu = direction(mn, vn) + pv * u.wd;
    sp = sp + pv * pv;
    su = su + uu * uu;`;

type LambStatsSpec = Extract<KernelSpec, { kind: 'lambStats' }>;
export function lambStatsKernel(spec: LambStatsSpec, image?: { maxTexDim: number }): KernelPlan {
  if (spec.parts < 1 || spec.parts > LAMB_MAX_PARTS) throw new Error(`lambStats: parts ${spec.parts} outside [1, ${LAMB_MAX_PARTS}]`);
  // Image variant: part w covers texels [w * chunk, (w + 1) * chunk), so its partial sums group elements
  // differently from the storage kernel's: the two agree to float rounding, each deterministic.
  const im = imageShape(spec.size, image);
  if (im) {
    const src = source('lambStats:image', () => ({
      wgsl: imageDecl(['p', 'g', 'm', 'v']) + WGSL_SPECIALS + wgReduce(IMAGE_WG) + storage4(4, 'm2') + storage4(5, 'v2') +
        storage(6, 'part', 'f32', 'write') + lambImageLayout.wgsl(7) + DIR4 + '\n' +
        entry(IMAGE_WG, statsBody(IMAGE_WG, 'u.texels', `${coord('i')}
    let gr = textureLoad(Tg, c);
    let mn = textureLoad(Tm, c) * u.b1 + gr * u.omb1;
    let vn = textureLoad(Tv, c) * u.b2 + (gr * gr) * u.omb2;
    m2[i] = mn;
    v2[i] = vn;
    let pv = textureLoad(Tp, c);
    let uu = direction4(mn, vn) + pv * u.wd;
    sp = sp + dot(pv, pv);
    su = su + dot(uu, uu);`)),
      bindings: ['image', 'image', 'image', 'image', 'write', 'write', 'write'], uniform: lambImageLayout,
    }));
    return imagePlan(src, im, { ...lambUniforms(spec, { lr: 0, b1: spec.beta1, b2: spec.beta2 }), chunk: ceilDiv(im.texels, spec.parts) }, spec.parts);
  }
  const lanes = softLanes(image);
  const src = source(`lambStats:${lanes}`, () => ({
    wgsl: WGSL_SPECIALS + wgReduce(lanes) + storage(0, 'p', 'f32', 'read') + storage(1, 'g', 'f32', 'read') + storage(2, 'm', 'f32', 'read') +
      storage(3, 'v', 'f32', 'read') + storage(4, 'm2', 'f32', 'write') + storage(5, 'v2', 'f32', 'write') + storage(6, 'part', 'f32', 'write') +
      lambLayout.wgsl(7) + DIR + '\n' +
      entry(lanes, statsBody(lanes, 'u.size', STATS_STEP)),
    bindings: ['read', 'read', 'read', 'read', 'write', 'write', 'write'], uniform: lambLayout,
  }));
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), inp(3), out(0), out(1), out(2)],
      uniforms: lambUniforms(spec, { lr: 0, b1: spec.beta1, b2: spec.beta2 }), workgroups: spec.parts,
    }],
  };
}

/** WGSL: LAMB's trust ratio ||p|| / ||u|| from wn, un (1 when either is 0), in every LAMB kernel. */
const TRUST_RATIO = '  let ratio = select(1.0, wn / max(un, 1e-30), wn > 0.0 && un > 0.0);';

/** WGSL: every workgroup's ||p||, ||u|| from the partials (same fixed order in all) and the trust ratio. */
const RATIO = `  let inRange = lid < u.parts;
  let k = min(lid, u.parts - 1u);
  let tp = wg_sum(select(0.0, part[2u * k], inRange), lid);
  let tu = wg_sum(select(0.0, part[2u * k + 1u], inRange), lid);
  let wn = sqrt(tp);
  let un = sqrt(tu);
${TRUST_RATIO}`;

type LambApplySpec = Extract<KernelSpec, { kind: 'lambApply' }>;
export function lambApplyKernel(spec: LambApplySpec, image?: { maxTexDim: number }): KernelPlan {
  const im = imageShape(spec.size, image);
  if (im) {
    const src = source('lambApply:image', () => ({
      wgsl: imageDecl(['p', 'm', 'v']) + WGSL_SPECIALS + wgReduce(IMAGE_WG) + storage(3, 'part', 'f32', 'read') + storage4(4, 'p2') +
        lambImageLayout.wgsl(5) + DIR4 + '\n' +
        entry(IMAGE_WG, `  // Lane l sums parts l, l + ${IMAGE_WG}, ... in order, then the lanes' sums are combined: the same
  // fixed order in every workgroup.
  var sp = 0.0;
  var su = 0.0;
  for (var k = lid; k < u.parts; k = k + ${IMAGE_WG}u) { sp = sp + part[2u * k]; su = su + part[2u * k + 1u]; }
  let wn = sqrt(wg_sum(sp, lid));
  let un = sqrt(wg_sum(su, lid));
${TRUST_RATIO}
  let start = wgid * u.chunk;
  let end = min(start + u.chunk, u.texels);
  for (var t = start + lid; t < end; t = t + ${IMAGE_WG}u) {
${coord('t')}
    let pv = textureLoad(Tp, c);
    let uu = direction4(textureLoad(Tm, c), textureLoad(Tv, c)) + pv * u.wd;
    p2[t] = pv - (uu * ratio) * u.lr;
  }`),
      bindings: ['image', 'image', 'image', 'read', 'write'], uniform: lambImageLayout,
    }));
    // Each workgroup (one SIMD group) re-reduces the partials, then updates one contiguous chunk. Against
    // 64-lane workgroups striding over the whole tensor: 131072 elements 8.1 -> 0.7-0.8 ms, the 7.8M-entry
    // embedding 125 -> 11.5 ms (8-256 workgroups alike).
    const groups = Math.min(64, ceilDiv(im.texels, 1024));
    return {
      temps: [],
      textures: imageTextures(3, im),
      steps: [{
        source: src, bind: [tex(0), tex(1), tex(2), inp(3), out(0)],
        uniforms: { ...lambUniforms(spec, { lr: spec.lr, b1: 0, b2: 0 }), chunk: ceilDiv(im.texels, groups), texels: im.texels, sh: im.sh },
        workgroups: groups,
      }],
    };
  }
  const src = source('lambApply', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(EW_WG) + storage(0, 'p', 'f32', 'read') + storage(1, 'm', 'f32', 'read') + storage(2, 'v', 'f32', 'read') +
      storage(3, 'part', 'f32', 'read') + storage(4, 'p2', 'f32', 'write') + lambLayout.wgsl(5) + DIR + '\n' +
      entry(EW_WG, `${RATIO}
  for (var i = gid; i < u.size; i = i + u.stride) {
    let pv = p[i];
    let uu = direction(m[i], v[i]) + pv * u.wd;
    p2[i] = pv - (uu * ratio) * u.lr;
  }`),
    bindings: ['read', 'read', 'read', 'read', 'write'], uniform: lambLayout,
  }));
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), inp(3), out(0)],
      uniforms: lambUniforms(spec, { lr: spec.lr, b1: 0, b2: 0 }), workgroups: applyGroups(spec.size),
    }],
  };
}

type LambStepSpec = Extract<KernelSpec, { kind: 'lambStep' }>;
/**
 * The whole LAMB step of small tensors in one dispatch: workgroup k updates tensor k (elements
 * off[k] .. off[k + 1] of the packed buffers), its lanes striding over the elements as lambStats'
 * with one part, so the norms, the trust ratio and p' equal lambStats + lambApply's bit for bit. The
 * moments are recomputed for p' rather than read back.
 */
export function lambStepKernel(spec: LambStepSpec, image?: { maxTexDim: number }): KernelPlan {
  const lanes = softLanes(image);
  const src = source(`lambStep:${lanes}`, () => ({
    wgsl: WGSL_SPECIALS + wgReduce(lanes) + storage(0, 'p', 'f32', 'read') + storage(1, 'g', 'f32', 'read') + storage(2, 'm', 'f32', 'read') +
      storage(3, 'v', 'f32', 'read') + storage(4, 'off', 'i32', 'read') + storage(5, 'p2', 'f32', 'write') + storage(6, 'm2', 'f32', 'write') +
      storage(7, 'v2', 'f32', 'write') + lambLayout.wgsl(8) + DIR + '\n' +
      entry(lanes, `  let start = u32(off[wgid]);
  let end = u32(off[wgid + 1u]);
  var sp = 0.0;
  var su = 0.0;
  for (var i = start + lid; i < end; i = i + ${lanes}u) {
${STATS_STEP}
  }
  let wn = sqrt(wg_sum(sp, lid));
  let un = sqrt(wg_sum(su, lid));
${TRUST_RATIO}
  for (var i = start + lid; i < end; i = i + ${lanes}u) {
    let gr = g[i];
    let pv = p[i];
    let uu = direction(m[i] * u.b1 + gr * u.omb1, v[i] * u.b2 + (gr * gr) * u.omb2) + pv * u.wd;
    p2[i] = pv - (uu * ratio) * u.lr;
  }`),
    bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'write', 'write'], uniform: lambLayout,
  }));
  const size = spec.sizes.reduce((a, b) => a + b, 0);
  const uniforms = lambUniforms({ ...spec, size, parts: 1 }, { lr: spec.lr, b1: spec.beta1, b2: spec.beta2 });
  return packedPlan(spec.sizes, 1, src, uniforms, spec.sizes.length);
}
