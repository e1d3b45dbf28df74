// Shared pieces of every WGSL kernel: uniform struct layout and packing, storage declarations,
// the entry-point boilerplate that turns a (possibly folded) 3-D grid into a linear workgroup id,
// and the plan types a kernel function returns to the backend.
//
// A kernel function takes a KernelSpec and returns a KernelPlan: one or more dispatch steps, each
// naming a compiled-once KernelSource (WGSL text that depends only on compile-time fields: op
// kind, flags) plus the runtime uniform values and the number of workgroups. Sizes, strides,
// scalars and seeds always travel in the uniform buffer, never in WGSL text.

import { MAX_DIMS } from '../engine/backend/spec.js';

/**
 * How a binding is used by the shader: a read-only or writable storage buffer, or (matmul's
 * texture strategy) a sampled rgba32float texture read with textureLoad.
 */
/**
 * Binding kinds: storage buffer read / read_write; 'texture': a sampled rgba32float texture;
 * 'image': a read-only rgba32float storage texture (WGSL feature readonly_and_readwrite_storage_textures),
 * whose textureLoad costs ~0.8 ns per invocation on llvmpipe against ~2.5 ns for a sampled one.
 */
export type Access = 'read' | 'write' | 'texture' | 'image';

/** Scalar uniform fields are 4 bytes; `*x8` fields are MAX_DIMS-long arrays (as 2 x vec4). */
export type FieldType = 'u32' | 'i32' | 'f32' | 'u32x8' | 'i32x8';

export type UniformValues = Record<string, number | readonly number[]>;

const VEC_ARRAYS = MAX_DIMS / 4; // arrays of dims are array<vec4<T>, 2>: uniform arrays need a 16-byte stride

/**
 * A uniform struct. Array fields come first (16-byte aligned), then scalars in declaration order.
 * Size is rounded up to 16 bytes.
 */
export class UniformLayout {
  readonly byteSize: number;
  private readonly offsets = new Map<string, { type: FieldType; offset: number }>();
  private readonly ordered: { name: string; type: FieldType; offset: number }[] = [];

  constructor(readonly fields: readonly (readonly [string, FieldType])[]) {
    let offset = 0;
    const arrays = fields.filter(([, t]) => t.endsWith('x8'));
    const scalars = fields.filter(([, t]) => !t.endsWith('x8'));
    for (const [name, type] of [...arrays, ...scalars]) {
      if (this.offsets.has(name)) throw new Error(`uniform field ${name} declared twice`);
      this.offsets.set(name, { type, offset });
      this.ordered.push({ name, type, offset });
      offset += type.endsWith('x8') ? 16 * VEC_ARRAYS : 4;
    }
    this.byteSize = Math.max(16, Math.ceil(offset / 16) * 16);
  }

  /** WGSL struct declaration plus the uniform binding. */
  wgsl(binding: number, structName = 'Params', varName = 'u'): string {
    const members = this.ordered.map(({ name, type }) => {
      switch (type) {
        case 'u32x8': return `  ${name}: array<vec4<u32>, ${VEC_ARRAYS}>,`;
        case 'i32x8': return `  ${name}: array<vec4<i32>, ${VEC_ARRAYS}>,`;
        default: return `  ${name}: ${type},`;
      }
    });
    return `struct ${structName} {\n${members.join('\n')}\n};\n` +
      `@group(0) @binding(${binding}) var<uniform> ${varName}: ${structName};\n`;
  }

  /** Writes the values at `byteOffset` of `view`. Every field must be given. */
  pack(values: UniformValues, view: DataView, byteOffset: number): void {
    for (const { name, type, offset } of this.ordered) {
      const v = values[name];
      if (v === undefined) throw new Error(`uniform field ${name} missing`);
      const at = byteOffset + offset;
      if (type.endsWith('x8')) {
        const arr = v as readonly number[];
        if (typeof v === 'number' || arr.length > MAX_DIMS) throw new Error(`uniform field ${name}: expected at most ${MAX_DIMS} numbers`);
        for (let i = 0; i < MAX_DIMS; i++) {
          const x = i < arr.length ? arr[i]! : 0;
          if (type === 'u32x8') view.setUint32(at + 4 * i, x >>> 0, true);
          else view.setInt32(at + 4 * i, x | 0, true);
        }
      } else {
        if (typeof v !== 'number') throw new Error(`uniform field ${name}: expected a number`);
        if (type === 'u32') view.setUint32(at, v >>> 0, true);
        else if (type === 'i32') view.setInt32(at, v | 0, true);
        else view.setFloat32(at, v, true);
      }
    }
  }
}

/** A compiled-once shader: WGSL depends only on compile-time fields of the spec. */
export interface KernelSource {
  /** Compile-time identity, e.g. `unary:gelu`; also the pipeline label in error messages. */
  readonly key: string;
  readonly wgsl: string;
  /** Storage bindings 0..n-1 in order; the uniform (if any) is binding n. */
  readonly bindings: readonly Access[];
  readonly uniform: UniformLayout | null;
}

/** Which buffer a binding refers to: an input, an output or a temporary of the plan. */
export interface BufRef {
  /** 'tex': the plan's textures[index] (a texture, only for 'texture' bindings). */
  readonly io: 'in' | 'out' | 'tmp' | 'tex';
  readonly index: number;
}
export const inp = (index: number): BufRef => ({ io: 'in', index });
export const out = (index: number): BufRef => ({ io: 'out', index });
export const tmp = (index: number): BufRef => ({ io: 'tmp', index });
export const tex = (index: number): BufRef => ({ io: 'tex', index });

/**
 * A 2-D rgba32float texture of `width` x `height` texels filled from the first `texels` texels
 * (16 bytes each) of buffer `from` with copyBufferToTexture, right before step `beforeStep`.
 * `width` is a power of two >= 16 (bytesPerRow = width * 16 is a multiple of 256); kernels view it
 * as a linear array of texels: texel t is at (t & (width - 1), t >> log2(width)).
 */
export interface TextureStep {
  readonly from: BufRef;
  readonly texels: number;
  readonly width: number;
  readonly height: number;
  readonly beforeStep: number;
}

export interface DispatchStep {
  readonly source: KernelSource;
  readonly bind: readonly BufRef[];
  readonly uniforms: UniformValues;
  /** Linear workgroup count; the backend folds it into a 2-D/3-D grid when it exceeds the per-dimension limit. */
  readonly workgroups: number;
}

export interface KernelPlan {
  /** Temporary buffers (sizes in 4-byte words) the steps bind as `tmp(i)`. */
  readonly temps: readonly number[];
  readonly steps: readonly DispatchStep[];
  /** Textures the steps bind as `tex(i)` (optional; only matmul's texture strategy uses them). */
  readonly textures?: readonly TextureStep[];
  /**
   * Kernels the same spec takes at other sizes (e.g. the storage fallback of an image kernel): the
   * backend creates their pipelines too, so the pipeline set does not depend on sizes.
   */
  readonly alternates?: readonly KernelSource[];
  /**
   * Sources the backend compiles with this plan even if no step uses them now (a kind's size-chosen
   * variants), so the set of pipelines does not depend on the sizes that arrive later.
   */
  readonly warm?: readonly KernelSource[];
  /** Buffer-to-buffer copies (packing several tensors into one temp, or unpacking), in plan order. */
  readonly copies?: readonly CopyStep[];
}

/**
 * A copy of `words` 4-byte words from `from` at word `fromOffset` to `to` at `toOffset`, recorded
 * before step `beforeStep` (steps.length: after the last step). Copies are not dispatches: a plan packs
 * many small tensors into one temp with them, so one dispatch updates them all.
 */
export interface CopyStep { from: BufRef; fromOffset: number; to: BufRef; toOffset: number; words: number; beforeStep: number }

/**
 * The copies laying parts 0..N-1 (sizes[k] words, part(k)) one after another in `whole` ('pack'), or
 * taking them back out of it ('unpack'), recorded before step `beforeStep`.
 */
export function packCopies(sizes: readonly number[], part: (k: number) => BufRef, whole: BufRef, dir: 'pack' | 'unpack', beforeStep: number): CopyStep[] {
  let at = 0;
  return sizes.map((words, k) => {
    const offset = at;
    at += words;
    return dir === 'pack'
      ? { from: part(k), fromOffset: 0, to: whole, toOffset: offset, words, beforeStep }
      : { from: whole, fromOffset: offset, to: part(k), toOffset: 0, words, beforeStep };
  });
}

/** Memoises KernelSources by key so WGSL is generated once per compile-time variant. */
const sources = new Map<string, KernelSource>();
export function source(key: string, build: () => Omit<KernelSource, 'key'>): KernelSource {
  let s = sources.get(key);
  if (!s) {
    s = { key, ...build() };
    sources.set(key, s);
  }
  return s;
}

/**
 * WGSL load of texel t of `tex`, a texture holding a linear array of texels in rows of 2^sh (t and sh
 * WGSL u32 expressions; linearTextureShape gives the shape).
 */
export const texelAt = (tex: string, t: string, sh: string): string => `textureLoad(${tex}, vec2<u32>((${t}) & ((1u << ${sh}) - 1u), (${t}) >> ${sh}))`;
/** texelAt of image T_<name>, its row shift in uniform u.sh_<name>. */
export const imageLoad = (name: string, t: string): string => texelAt(`T_${name}`, t, `u.sh_${name}`);

/**
 * `plan` with every source of `all` that its steps do not use as alternates: all the kernels an op
 * could take are compiled whichever it takes, so the pipeline count does not depend on shapes.
 */
export function withAlternates(plan: KernelPlan, all: readonly KernelSource[]): KernelPlan {
  return { ...plan, alternates: all.filter((a) => !plan.steps.some((st) => st.source === a)) };
}

export type WgslType = 'f32' | 'i32' | 'u32' | 'vec2<u32>' | 'vec4<u32>';

/** `@group(0) @binding(i) var<storage, read|read_write> name: array<T>;` */
export function storage(binding: number, name: string, type: WgslType, access: Access): string {
  return `@group(0) @binding(${binding}) var<storage, ${access === 'read' ? 'read' : 'read_write'}> ${name}: array<${type}>;\n`;
}

/**
 * Entry point with workgroup size `wg`. Inside the body:
 *   wgid: u32  linear workgroup id (grid folded into x/y/z by the backend)
 *   lid:  u32  local invocation index
 *   gid:  u32  wgid * wg + lid
 * Kernels must guard against ids past their work (folded grids round up).
 */
export function entry(wg: number, body: string): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wg3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wgid = wg3.x + nwg.x * (wg3.y + nwg.y * wg3.z);
  let gid = wgid * ${wg}u + lid;
${body}
}
`;
}

/** Reads element i of a `*x8` uniform array field, e.g. dim('u.shape', 'd'). */
export function dim(field: string, i: string): string {
  return `${field}[(${i}) >> 2u][(${i}) & 3u]`;
}

/** NaN and +inf cannot be WGSL constants; read them from private variables instead. */
export const WGSL_SPECIALS = /* wgsl */ `
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan_f32() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf_f32() -> f32 { return bitcast<f32>(INF_BITS); }
`;

/**
 * WGSL bool: x is a NaN, tested on its bits. WGSL lets a compiler assume no NaN, so comparisons with
 * a NaN differ between drivers (SwiftShader: NaN != 0.0 is false, exp(NaN) = inf; llvmpipe: IEEE).
 */
export const isNan = (x: string): string => `((bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)`;
export const isNan4 = (x: string): string => `((bitcast<vec4<u32>>(${x}) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u))`;
/**
 * WGSL max (or min) of a and b that is NaN when either is, the reference's rule (WGSL's max/min may
 * return the other operand). The operands are repeated: pass names, not loads.
 */
export const maxNan = (a: string, b: string, fn: 'max' | 'min' = 'max'): string => `select(select(${fn}(${a}, ${b}), ${b}, ${isNan(b)}), ${a}, ${isNan(a)})`;
export const maxNan4 = (a: string, b: string): string => `select(select(max(${a}, ${b}), ${b}, ${isNan4(b)}), ${a}, ${isNan4(a)})`;

/**
 * wg_sync(), the barrier of every kernel that shares workgroup memory: workgroupBarrier() plus
 * storageBarrier(). On Mesa llvmpipe (Dawn's GL backend) a bare workgroupBarrier() let a
 * workgroup-memory load move across it (invocations of another SIMD group read the result slot
 * after the next reduction had overwritten it); the extra memory barrier pins it. Found by the
 * layernorm tests (rows shorter than the workgroup).
 */
export const WG_SYNC = /* wgsl */ `
fn wg_sync() {
  workgroupBarrier();
  storageBarrier();
}
`;

/**
 * Workgroup tree reductions for row kernels (workgroup size `wg`, a power of two). Must be called
 * from uniform control flow. Deterministic: a fixed tree.
 */
export function wgReduce(wg: number): string {
  return WG_SYNC + /* wgsl */ `
var<workgroup> red_f: array<f32, ${wg}>;
var<workgroup> red_i: array<u32, ${wg}>;
fn wg_sum(v: f32, lid: u32) -> f32 {
  red_f[lid] = v;
  wg_sync();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red_f[lid] = red_f[lid] + red_f[lid + s]; }
    wg_sync();
  }
  let r = red_f[0];
  wg_sync();
  return r;
}
fn wg_max(v: f32, lid: u32) -> f32 {
  red_f[lid] = v;
  wg_sync();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let a = red_f[lid];
      let b = red_f[lid + s];
      red_f[lid] = ${maxNan('a', 'b')};
    }
    wg_sync();
  }
  let r = red_f[0];
  wg_sync();
  return r;
}
// argmax: larger value wins, ties go to the smaller index. Returns the winning index.
fn wg_argmax(v: f32, idx: u32, lid: u32) -> u32 {
  red_f[lid] = v;
  red_i[lid] = idx;
  wg_sync();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let ov = red_f[lid + s];
      let oi = red_i[lid + s];
      let mv = red_f[lid];
      let mi = red_i[lid];
      if (ov > mv || (ov == mv && oi < mi)) { red_f[lid] = ov; red_i[lid] = oi; }
    }
    wg_sync();
  }
  let r = red_i[0];
  wg_sync();
  return r;
}
`;
}

/** Workgroup size of elementwise kernels (one element per invocation). */
export const EW_WG = 256;
/** Workgroup size of row kernels (one workgroup per row). */
export const ROW_WG = 64;

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/**
 * Shape of a 2-D texture holding `texels` texels as a linear array (texel t at (t & (width-1),
 * t >> log2 width)): power-of-two width >= 16 (bytesPerRow a multiple of 256) up to maxDim; null
 * when it does not fit maxDim x maxDim.
 */
export function linearTextureShape(texels: number, maxDim: number): { width: number; height: number } | null {
  const maxW = 2 ** Math.floor(Math.log2(maxDim));
  if (texels <= maxW) return { width: Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, texels)))), height: 1 };
  const height = ceilDiv(texels, maxW);
  return height <= maxDim ? { width: maxW, height } : null;
}

/**
 * Merges adjacent dimensions that are contiguous in every stride set and drops size-1 dims, so
 * strided kernels loop over as few dims as possible. Returns at least one dim.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, k) => { outStrides[k]![last] = s[d]!; });
    } else {
      outShape.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  return { shape: outShape, strides: outStrides };
}

export const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/**
 * Elements per invocation of the strided kernels (binary, where, copy). Unravelling an index over
 * the shape costs a u32 division and modulo per dimension, which llvmpipe scalarises per SIMD lane
 * (~25 cycles each): more than the memory traffic of a permute. So an invocation handles a run of
 * STRIDED_RUN consecutive elements of the innermost dimension and unravels only the run's start.
 */
export const STRIDED_RUN = 8;

/** Host side of stridedRuns: `runs` per innermost row and the invocation count. */
export function runCounts(shape: readonly number[]): { runs: number; total: number } {
  const n0 = shape[shape.length - 1]!;
  if (product(shape) === 0) return { runs: 1, total: 0 };
  const runs = ceilDiv(n0, STRIDED_RUN);
  return { runs, total: (product(shape) / n0) * runs };
}

/**
 * WGSL for the strided kernels (uniforms shape, st_<name>, rank, runs, total): returns early past
 * the last run; declares n0 (innermost length), e0 (the run's first element along it), row (the
 * run's row index over the outer dimensions), and for each operand o_<name> (offset of the run's
 * first element, starting from `base[name]` if given) and s0_<name> (innermost stride).
 */
export function stridedRuns(names: readonly string[], base: Record<string, string> = {}): string {
  return `  if (gid >= u.total) { return; }
  let last = u.rank - 1u;
  let n0 = ${dim('u.shape', 'last')};
  let row = gid / u.runs;
  let e0 = (gid - row * u.runs) * ${STRIDED_RUN}u;
${names.map((n) => `  let s0_${n} = ${dim(`u.st_${n}`, 'last')};\n  var o_${n} = ${base[n] ?? '0i'} + i32(e0) * s0_${n};`).join('\n')}
  var rem = row;
  for (var d = i32(last) - 1; d >= 0; d = d - 1) {
    let n = ${dim('u.shape', 'u32(d)')};
    let c = i32(rem % n);
    rem = rem / n;
${names.map((n) => `    o_${n} = o_${n} + c * ${dim(`u.st_${n}`, 'u32(d)')};`).join('\n')}
  }`;
}

/** Unrolled loop over the run: `body(j)` runs for element e0 + j when it is inside the row. */
export function forRun(body: (j: number) => string): string {
  return Array.from({ length: STRIDED_RUN }, (_, j) => `  if (e0 + ${j}u < n0) {\n${body(j)}\n  }`).join('\n');
}
