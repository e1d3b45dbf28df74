// The WebGPU backend: every KernelSpec becomes one or more dispatches of WGSL kernels from kernels/.
// Platform neutral (takes a GPUDevice); Node construction lives in node.ts.
//
// Debug switch: env WEBGPU_DEBUG (or the `debug` option): 1 logs each dispatch, 2 adds submit
// timings and pool stats at each read, 3 dumps the WGSL of every new pipeline.

import { matmulArity, type Backend, type DType, type HostArray, type KernelSpec, type Storage } from '../spec.js';
import { arity as specArity, planKernel, type BufRef, type KernelPlan } from '../../../kernels/index.js';
import { isMatmulStrategy, readsTextures, type MatmulSpec, type MatmulStrategy } from '../../../kernels/matmul.js';
import { matmulAuxSources, planMatmul } from '../../../kernels/matmul-strategy.js';
import { cachedChoice, envStrategy, heuristicStrategy } from './autotune.js';
import { envRowStrategy, heuristicRowStrategy, isRowStrategy, rowStrategySupported, type RowStrategy } from '../../../kernels/rows-strategy.js';
import { ATTENTION_VARIANTS, envAttentionVariant, type AttentionVariant } from '../../../kernels/attention.js';
import { DEFAULT_TEXTURE_CACHE_BYTES, TextureCache, TexturePool, type PooledTexture } from './textures.js';
import type { AdapterReport } from './device.js';
import { BufferUsage, MapMode } from './flags.js';
import { PipelineCache } from './pipelines.js';
import { BufferPool, type PoolStats } from './pool.js';
import { CommandQueue, type BoundBuffer } from './queue.js';

export interface WebGPUBackendOptions {
  /** Dispatches per submit (default 48). */
  batchSize?: number;
  /** 0..3, see the file comment; default from env WEBGPU_DEBUG. */
  debug?: number;
  /** Overrides maxComputeWorkgroupsPerDimension (tests use a small value to exercise grid folding). */
  maxWorkgroupsPerDim?: number;
  /** Pooled bytes kept for reuse (default 1 GiB). */
  maxPooledBytes?: number;
  /** Forces a matmul strategy (else env WEBGPU_MATMUL, else the autotuned / heuristic choice). */
  matmulStrategy?: MatmulStrategy;
  /** Forces the row-kernel strategy (else env WEBGPU_ROWS, else per adapter; kernels/rows-strategy.ts). */
  rowStrategy?: RowStrategy;
  /** Bytes of textures kept as copies of unchanged input buffers (textures.ts TextureCache; default 256 MiB, 0: none). */
  textureCacheBytes?: number;
}

export interface BackendStats {
  storagesLive: number;
  pipelines: number;
  dispatches: number;
  submits: number;
  /** Dispatches that reused a cached bind group. */
  bindGroupHits: number;
  pool: PoolStats;
  staging: PoolStats;
  /** Texture copies skipped because the input buffer's texture was cached. */
  textureCacheHits: number;
}

class GPUStorage implements Storage {
  freed = false;
  constructor(readonly size: number, readonly dtype: DType, readonly buffer: GPUBuffer, readonly id: number) {}
}

const bindBytes = (words: number) => Math.max(4, words * 4);

function envDebug(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = Number(env?.['WEBGPU_DEBUG'] ?? 0);
  return Number.isFinite(v) ? v : 0;
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly debug: number;
  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly queue: CommandQueue;
  private readonly textures: TexturePool;
  private readonly texCache: TextureCache;
  private live = 0;
  private nextId = 0;
  private destroyed = false;
  private matmulChoice: MatmulStrategy;
  private readonly matmulForced: boolean;
  private attentionChoice: AttentionVariant;
  private rowChoice: RowStrategy;
  private readonly auxWarmed = new Set<MatmulStrategy>();

  constructor(readonly device: GPUDevice, readonly adapter: AdapterReport, opts: WebGPUBackendOptions = {}) {
    this.debug = opts.debug ?? envDebug();
    this.pool = new BufferPool(device, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, opts.maxPooledBytes ?? 1 << 30, 'storage');
    this.staging = new BufferPool(device, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 256 << 20, 'staging');
    this.pipelines = new PipelineCache(device, this.debug);
    this.textures = new TexturePool(device);
    this.texCache = new TextureCache(this.textures, opts.textureCacheBytes ?? DEFAULT_TEXTURE_CACHE_BYTES);
    const forced = opts.matmulStrategy ?? envStrategy();
    if (forced !== undefined && !isMatmulStrategy(forced)) throw new Error(`webgpu: unknown matmul strategy ${String(forced)}`);
    this.matmulForced = forced !== undefined;
    this.matmulChoice = forced ?? cachedChoice(adapter)?.strategy ?? heuristicStrategy(adapter);
    this.rowChoice = heuristicRowStrategy(adapter);
    this.setRowStrategy(opts.rowStrategy ?? envRowStrategy() ?? this.rowChoice);
    // Fused attention: texel-fetch kernels where the (tuned or heuristic) matmul reads textures.
    this.attentionChoice = envAttentionVariant() ?? (readsTextures(this.matmulChoice) ? 'texture' : 'storage');
    this.queue = new CommandQueue(device, {
      batchSize: opts.batchSize ?? 48,
      maxWorkgroupsPerDim: opts.maxWorkgroupsPerDim ?? device.limits.maxComputeWorkgroupsPerDimension,
      uniformAlign: device.limits.minUniformBufferOffsetAlignment,
      debug: this.debug,
    });
    this.queue.onSubmit(() => this.pool.onSubmit());
    void device.lost.then((info) => {
      if (!this.destroyed) console.error(`[webgpu] device lost (${info.reason}): ${info.message}`);
    });
  }

  alloc(size: number, dtype: DType): Storage {
    this.checkAlive();
    if (!Number.isInteger(size) || size < 0) throw new Error(`webgpu alloc: bad size ${size}`);
    if (dtype !== 'f32' && dtype !== 'i32') throw new Error(`webgpu alloc: bad dtype ${String(dtype)}`);
    const bytes = bindBytes(size);
    if (bytes > this.device.limits.maxStorageBufferBindingSize) {
      throw new Error(`webgpu alloc: ${size} elements (${bytes} bytes) exceed maxStorageBufferBindingSize ${this.device.limits.maxStorageBufferBindingSize}`);
    }
    const buf = this.pool.acquire(bytes);
    this.live++;
    return new GPUStorage(size, dtype, buf, this.nextId++);
  }

  free(storage: Storage): void {
    const s = this.own(storage, 'free');
    s.freed = true;
    this.live--;
    this.texCache.invalidate(s.buffer);
    this.pool.release(s.buffer, this.queue.references(s.buffer));
  }

  write(storage: Storage, data: ArrayLike<number>): void {
    const s = this.own(storage, 'write');
    if (data.length !== s.size) throw new Error(`webgpu write: ${data.length} values for storage of size ${s.size}`);
    if (s.size === 0) return;
    const arr = s.dtype === 'f32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    this.texCache.invalidate(s.buffer);
    // queue.writeBuffer runs before the pending encoder: submit it first if it touches this buffer.
    if (this.queue.references(s.buffer)) this.queue.submit();
    this.device.queue.writeBuffer(s.buffer, 0, arr.buffer, arr.byteOffset, arr.byteLength);
  }

  async read(storage: Storage): Promise<HostArray> {
    const s = this.own(storage, 'read');
    const bytes = bindBytes(s.size);
    const staging = this.staging.acquire(bytes);
    this.queue.copy(s.buffer, staging, bytes);
    this.queue.submit();
    const [mapped, pipes, errs] = await Promise.allSettled([
      staging.mapAsync(MapMode.READ, 0, bytes), this.pipelines.validate(), this.queue.drain(),
    ]);
    let out: Float32Array | Int32Array | null = null;
    if (mapped.status === 'fulfilled') {
      const src = staging.getMappedRange(0, bytes);
      out = s.dtype === 'f32' ? new Float32Array(s.size) : new Int32Array(s.size);
      new Uint8Array(out.buffer).set(new Uint8Array(src, 0, s.size * 4));
      staging.unmap();
      this.staging.release(staging, false);
    } else {
      this.staging.discard(staging);
    }
    if (pipes.status === 'rejected') throw pipes.reason;
    if (errs.status === 'rejected') throw errs.reason;
    if (mapped.status === 'rejected') throw new Error(`webgpu read: mapAsync failed: ${String(mapped.reason)}`);
    if (this.debug >= 2) console.log(`[webgpu] read ${s.size} ${s.dtype}; stats ${JSON.stringify(this.stats())}`);
    return out!;
  }

  run(spec: KernelSpec, inputs: Storage[], outputs: Storage[]): void {
    this.checkAlive();
    const arity = specArity(spec);
    if (!arity) throw new Error(`webgpu run: unknown kernel kind ${(spec as { kind: string }).kind}`);
    if (inputs.length !== arity[0] || outputs.length !== arity[1]) {
      throw new Error(`webgpu run ${spec.kind}: expected ${arity[0]} inputs and ${arity[1]} outputs, got ${inputs.length} and ${outputs.length}`);
    }
    const ins = inputs.map((s) => this.own(s, spec.kind));
    const outs = outputs.map((s) => this.own(s, spec.kind));
    const plan: KernelPlan = spec.kind === 'matmul' ? this.matmulPlan(spec, this.matmulChoice) : planKernel(spec, {
      attention: this.attentionChoice, maxTextureDimension2D: this.device.limits.maxTextureDimension2D, rows: this.rowChoice,
      imageInputs: this.matmulChoice.startsWith('image-'),
    });
    this.execute(plan, ins, outs);
  }

  /** The fused-attention kernel variant in use (env WEBGPU_ATTENTION, else per adapter). */
  get attentionVariant(): AttentionVariant {
    return this.attentionChoice;
  }

  /** Sets the fused-attention variant (tests, benches). */
  setAttentionVariant(v: AttentionVariant): void {
    if (!ATTENTION_VARIANTS.includes(v)) throw new Error(`webgpu: unknown attention variant ${String(v)}`);
    this.attentionChoice = v;
  }

  /** The row-kernel strategy in use (kernels/rows-strategy.ts). */
  get rowStrategy(): RowStrategy {
    return this.rowChoice;
  }

  /** Sets the row-kernel strategy (tests, benches). */
  setRowStrategy(s: RowStrategy): void {
    if (!isRowStrategy(s)) throw new Error(`webgpu: unknown row-kernel strategy ${String(s)}`);
    if (!rowStrategySupported(s, this.adapter.wgslFeatures)) throw new Error(`webgpu: row-kernel strategy ${s} needs a WGSL language feature this GPU lacks`);
    this.rowChoice = s;
  }

  /** The matmul strategy in use (forced, autotuned or heuristic). */
  get matmulStrategy(): MatmulStrategy {
    return this.matmulChoice;
  }

  /** Whether the strategy was forced (option or env WEBGPU_MATMUL): autotuning leaves it alone. */
  get matmulStrategyForced(): boolean {
    return this.matmulForced;
  }

  /** Sets the matmul strategy (autotune.ts; tests). */
  setMatmulStrategy(s: MatmulStrategy): void {
    if (!isMatmulStrategy(s)) throw new Error(`webgpu: unknown matmul strategy ${String(s)}`);
    this.matmulChoice = s;
  }

  /** Runs one matmul spec under a given strategy (autotuning, tests, benches). */
  runMatmulWith(strategy: MatmulStrategy, spec: MatmulSpec, inputs: Storage[], outputs: Storage[]): void {
    this.checkAlive();
    const [ni, no] = matmulArity(spec);
    if (inputs.length !== ni || outputs.length !== no) throw new Error(`webgpu matmul: expected ${ni} inputs and ${no} outputs`);
    this.execute(this.matmulPlan(spec, strategy), inputs.map((s) => this.own(s, 'matmul')), outputs.map((s) => this.own(s, 'matmul')));
  }

  /**
   * Runs a kernel plan built by the caller (benches comparing variants of one kernel in one process,
   * e.g. scripts/ab-matmul-tiles.ts); `run` is the way for everything else.
   */
  runPlan(plan: KernelPlan, inputs: Storage[], outputs: Storage[]): void {
    this.checkAlive();
    this.execute(plan, inputs.map((s) => this.own(s, 'runPlan')), outputs.map((s) => this.own(s, 'runPlan')));
  }

  private matmulPlan(spec: MatmulSpec, strategy: MatmulStrategy): KernelPlan {
    if (!this.auxWarmed.has(strategy)) {
      // Create the strategy's auxiliary pipelines now, so later sizes never add pipelines.
      for (const src of matmulAuxSources(strategy)) this.pipelines.get(src);
      this.auxWarmed.add(strategy);
    }
    return planMatmul(spec, strategy, this.device.limits.maxTextureDimension2D);
  }

  private execute(plan: KernelPlan, ins: GPUStorage[], outs: GPUStorage[]): void {
    for (const alt of plan.alternates ?? []) this.pipelines.get(alt);

    // WebGPU forbids binding a buffer writable and bound again in the same dispatch: route an output
    // that aliases an input through a temporary (seeded with its contents, for `copy`'s untouched elements).
    const outBufs: BoundBuffer[] = outs.map((o) => ({ buffer: o.buffer, bytes: bindBytes(o.size) }));
    for (const o of outs) this.texCache.invalidate(o.buffer); // about to change
    const aliased: { tmp: GPUBuffer; dst: GPUBuffer; bytes: number }[] = [];
    outs.forEach((o, i) => {
      if (ins.some((x) => x.buffer === o.buffer) || outs.some((x, j) => j < i && x.buffer === o.buffer)) {
        const bytes = bindBytes(o.size);
        const t = this.pool.acquire(bytes);
        this.queue.copy(o.buffer, t, bytes);
        outBufs[i] = { buffer: t, bytes };
        aliased.push({ tmp: t, dst: o.buffer, bytes });
      }
    });
    const temps = plan.temps.map((words) => {
      const bytes = bindBytes(words);
      return { buffer: this.pool.acquire(bytes), bytes };
    });
    const texs: PooledTexture[] = [];
    const fromCache: PooledTexture[] = []; // taken from or put into the texture cache
    const resolve = (r: BufRef): BoundBuffer => {
      if (r.io === 'in') return { buffer: ins[r.index]!.buffer, bytes: bindBytes(ins[r.index]!.size) };
      if (r.io === 'out') return outBufs[r.index]!;
      if (r.io === 'tex') return { buffer: null as unknown as GPUBuffer, bytes: 0, view: texs[r.index]!.view };
      return temps[r.index]!;
    };
    for (const src of plan.warm ?? []) this.pipelines.get(src);
    const copiesBefore = (i: number) => {
      for (const c of plan.copies ?? []) {
        if (c.beforeStep === i && c.words > 0) this.queue.copy(resolve(c.from).buffer, resolve(c.to).buffer, 4 * c.words, 4 * c.fromOffset, 4 * c.toOffset);
      }
    };
    for (const [i, step] of plan.steps.entries()) {
      copiesBefore(i);
      for (const t of plan.textures ?? []) {
        if (t.beforeStep !== i) continue;
        const src = resolve(t.from).buffer;
        // Inputs are not written by the plan, so their textures can be cached; temps and outputs are.
        const cacheable = t.from.io === 'in';
        const hit = cacheable ? this.texCache.take(src, t.texels, t.width) : null;
        if (hit) {
          texs.push(hit);
          fromCache.push(hit);
          continue;
        }
        const pooled = this.textures.acquire(t.width, t.height);
        texs.push(pooled);
        this.queue.copyToTexture(src, pooled.texture, t.texels, t.width);
        if (cacheable) {
          this.texCache.put(src, pooled, t.texels);
          fromCache.push(pooled);
        }
      }
      if (step.workgroups <= 0) continue;
      const { pipeline, layout } = this.pipelines.get(step.source);
      this.queue.dispatch(pipeline, layout, step.source, step.bind.map(resolve), step.uniforms, step.workgroups);
    }
    copiesBefore(plan.steps.length);
    for (const a of aliased) {
      this.queue.copy(a.tmp, a.dst, a.bytes);
      this.texCache.invalidate(a.dst); // an in-place op's input, possibly cached during this plan
      this.pool.release(a.tmp, true);
    }
    for (const t of temps) this.pool.release(t.buffer, this.queue.references(t.buffer));
    for (const t of texs) if (!fromCache.includes(t)) this.textures.release(t);
    this.texCache.finish(fromCache);
  }

  flush(): void {
    this.checkAlive();
    this.queue.submit();
    this.pipelines.throwReady();
    this.queue.throwReady();
  }

  /** Waits until all submitted work is done and reports any error. */
  async sync(): Promise<void> {
    this.queue.submit();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all([this.pipelines.validate(), this.queue.drain()]);
  }

  liveCount(): number {
    return this.live;
  }

  pipelineCount(): number {
    return this.pipelines.pipelineCount();
  }

  /** Exposed for tests: the pipeline cache (e.g. to compile a deliberately broken kernel). */
  get pipelineCache(): PipelineCache {
    return this.pipelines;
  }

  stats(): BackendStats {
    return {
      storagesLive: this.live,
      pipelines: this.pipelines.pipelineCount(),
      dispatches: this.queue.dispatchCount,
      submits: this.queue.submitCount,
      bindGroupHits: this.queue.bindGroupHits,
      pool: this.pool.stats(),
      staging: this.staging.stats(),
      textureCacheHits: this.texCache.hits,
    };
  }

  /**
   * Bytes of input-buffer textures to keep for reuse (0: none, every texture read copies afresh, as
   * for a freshly computed tensor: the kernel benchmarks time it that way).
   */
  setTextureCacheBytes(bytes: number): void {
    this.texCache.setBudget(bytes);
  }

  /** Destroys the pooled (free) buffers, e.g. between phases with different tensor sizes. */
  trim(): void {
    this.checkAlive();
    this.pool.trim();
    this.staging.trim();
    this.texCache.clear();
    this.textures.trim();
    this.queue.forgetBindGroups();
  }

  /** Frees every GPU resource and destroys the device. The backend is unusable afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.destroy();
    this.pool.destroy();
    this.staging.destroy();
    this.textures.destroy();
    this.device.destroy();
  }

  private checkAlive(): void {
    if (this.destroyed) throw new Error('webgpu backend used after destroy()');
  }

  private own(storage: Storage, what: string): GPUStorage {
    this.checkAlive();
    if (!(storage instanceof GPUStorage)) throw new Error(`webgpu ${what}: storage does not belong to the WebGPU backend`);
    if (storage.freed) throw new Error(`webgpu ${what}: storage used after free`);
    return storage;
  }
}
