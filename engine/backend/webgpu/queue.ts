// Command recording: dispatches go into one command encoder (one compute pass while possible) and
// are submitted every `batchSize` dispatches and on read/flush.
//
// Uniforms: each dispatch gets a slot in a CPU-side arena; at submit the arena is written to one
// uniform buffer with queue.writeBuffer right before queue.submit. Queue operations execute in
// order, so the buffer can be reused by every batch: earlier batches were submitted (and so run)
// before the write that overwrites their slots.
//
// Bind groups: the uniform is bound with a dynamic offset, so a bind group depends only on the
// layout and the storage buffers; they are cached by (layout, buffers, sizes), which hits whenever
// pooled buffers are reused in the same roles (every training step). createBindGroup costs
// ~20 us on Dawn/llvmpipe, about half of a dispatch's recording time.
//
// Grids: a linear workgroup count beyond maxComputeWorkgroupsPerDimension is folded into x/y/z;
// kernels rebuild the linear id from workgroup_id and num_workgroups and guard the excess.
//
// Errors: each batch runs inside validation + out-of-memory error scopes (plus an uncaptured-error
// handler for anything outside); errors are reported, with the kernels of the batch, by
// throwReady() (at flush, when already known) and drain() (awaited at read).

import type { KernelSource, UniformValues } from '../../../kernels/common.js';
import { BufferUsage } from './flags.js';

export interface BoundBuffer {
  buffer: GPUBuffer;
  /** Bytes bound (a multiple of 4, at least 4). */
  bytes: number;
  /** Set for a texture binding: the view bound instead of `buffer` (which is then unused). */
  view?: GPUTextureView;
}

export interface QueueOptions {
  batchSize: number;
  maxWorkgroupsPerDim: number;
  uniformAlign: number;
  debug: number;
}

/** Splits a linear workgroup count into a grid whose dimensions stay within `max`. */
export function foldGrid(total: number, max: number): [number, number, number] {
  if (total <= max) return [total, 1, 1];
  const yz = Math.ceil(total / max);
  if (yz <= max) return [Math.ceil(total / yz), yz, 1];
  const z = Math.ceil(yz / max);
  if (z > max) throw new Error(`webgpu: ${total} workgroups exceed ${max}^3`);
  return [max, max, z];
}

export class CommandQueue {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private inBatch = 0;
  private kernels = new Set<string>();
  private referenced = new Set<GPUBuffer>();
  private readonly arena: ArrayBuffer;
  private readonly view: DataView;
  private used = 0;
  private readonly uniformBuffer: GPUBuffer;
  private checks: Promise<void>[] = [];
  private readonly errors: Error[] = [];
  private submitHooks: (() => void)[] = [];
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<object, number>();
  private nextBufferId = 0;
  bindGroupHits = 0;
  dispatchCount = 0;
  submitCount = 0;

  constructor(private readonly device: GPUDevice, private readonly opts: QueueOptions) {
    const slot = Math.max(256, opts.uniformAlign);
    const bytes = slot * Math.max(1, opts.batchSize) * 2;
    this.arena = new ArrayBuffer(bytes);
    this.view = new DataView(this.arena);
    this.uniformBuffer = device.createBuffer({ label: 'uniforms', size: bytes, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.errors.push(new Error(`WebGPU error (uncaptured): ${err?.message ?? String(err)}`));
    });
  }

  /** Registers a callback run after every submit (the pools release their pending buffers). */
  onSubmit(hook: () => void): void {
    this.submitHooks.push(hook);
  }

  /** Whether the pending (unsubmitted) encoder references `buf`. */
  references(buf: GPUBuffer): boolean {
    return this.referenced.has(buf);
  }

  get pendingDispatches(): number {
    return this.inBatch;
  }

  private begin(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    }
    return this.encoder;
  }

  dispatch(
    pipeline: GPUComputePipeline, layout: GPUBindGroupLayout, src: KernelSource,
    buffers: readonly BoundBuffer[], uniforms: UniformValues, workgroups: number,
  ): void {
    if (workgroups <= 0) return;
    const ubytes = src.uniform?.byteSize ?? 0;
    const align = Math.max(16, this.opts.uniformAlign);
    if (ubytes > 0 && this.used + ubytes > this.arena.byteLength) this.submit();
    const enc = this.begin();
    const group = this.bindGroup(layout, src, buffers, ubytes);
    let offset = 0;
    if (src.uniform) {
      offset = this.used;
      src.uniform.pack(uniforms, this.view, offset);
      this.used = Math.ceil((offset + ubytes) / align) * align;
    }
    if (!this.pass) this.pass = enc.beginComputePass({ label: 'batch' });
    const [x, y, z] = foldGrid(workgroups, this.opts.maxWorkgroupsPerDim);
    this.pass.setPipeline(pipeline);
    if (src.uniform) this.pass.setBindGroup(0, group, [offset]);
    else this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    for (const b of buffers) if (!b.view) this.referenced.add(b.buffer);
    this.kernels.add(src.key);
    this.inBatch++;
    this.dispatchCount++;
    if (this.opts.debug >= 1) console.log(`[webgpu] dispatch ${src.key} grid=${x}x${y}x${z} ${JSON.stringify(uniforms)}`);
    if (this.inBatch >= this.opts.batchSize) this.submit();
  }

  private idOf(o: object): number {
    let id = this.bufferIds.get(o);
    if (id === undefined) { id = this.nextBufferId++; this.bufferIds.set(o, id); }
    return id;
  }

  private bindGroup(layout: GPUBindGroupLayout, src: KernelSource, buffers: readonly BoundBuffer[], ubytes: number): GPUBindGroup {
    let key = `${this.idOf(layout)}|${ubytes}`;
    for (const b of buffers) key += b.view ? `|t${this.idOf(b.view)}` : `|${this.idOf(b.buffer)}:${b.bytes}`;
    let group = this.groups.get(key);
    if (group) { this.bindGroupHits++; return group; }
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({ binding: i, resource: b.view ?? { buffer: b.buffer, offset: 0, size: b.bytes } }));
    if (src.uniform) entries.push({ binding: buffers.length, resource: { buffer: this.uniformBuffer, offset: 0, size: ubytes } });
    group = this.device.createBindGroup({ label: src.key, layout, entries });
    if (this.groups.size >= 4096) this.groups.clear();
    this.groups.set(key, group);
    return group;
  }

  /** Drops cached bind groups (call when buffers are destroyed, so they can be collected). */
  forgetBindGroups(): void {
    this.groups.clear();
  }

  /** Records a buffer-to-buffer copy in the pending encoder (offsets in bytes, multiples of 4). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    const enc = this.begin();
    if (this.pass) { this.pass.end(); this.pass = null; }
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.referenced.add(src);
    this.referenced.add(dst);
    this.kernels.add('copyBufferToBuffer');
  }

  /**
   * Records a copy of the first `texels` rgba32float texels of `src` into `dst` (width `width`,
   * a multiple of 16 texels so bytesPerRow is a multiple of 256), row by row from the origin.
   */
  copyToTexture(src: GPUBuffer, dst: GPUTexture, texels: number, width: number): void {
    const enc = this.begin();
    if (this.pass) { this.pass.end(); this.pass = null; }
    const full = Math.floor(texels / width);
    const rest = texels - full * width;
    if (full > 0) enc.copyBufferToTexture({ buffer: src, offset: 0, bytesPerRow: width * 16, rowsPerImage: full }, { texture: dst }, [width, full, 1]);
    if (rest > 0) enc.copyBufferToTexture({ buffer: src, offset: full * width * 16, bytesPerRow: width * 16, rowsPerImage: 1 }, { texture: dst, origin: [0, full, 0] }, [rest, 1, 1]);
    this.referenced.add(src);
    this.kernels.add('copyBufferToTexture');
  }

  /** Submits the pending encoder, if any. */
  submit(): void {
    const enc = this.encoder;
    if (!enc) return;
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (this.used > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.arena, 0, this.used);
    const t0 = this.opts.debug >= 2 ? performance.now() : 0;
    this.device.queue.submit([enc.finish()]);
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    const kernels = [...this.kernels].join(', ');
    const n = this.inBatch;
    this.checks.push(Promise.all([validation, oom]).then(([v, o]) => {
      for (const e of [v, o]) {
        if (e) this.errors.push(new Error(`WebGPU ${e === o ? 'out-of-memory' : 'validation'} error in a batch of ${n} dispatches (kernels: ${kernels}): ${e.message}`));
      }
    }));
    if (this.opts.debug >= 2) {
      const id = this.submitCount;
      void this.device.queue.onSubmittedWorkDone().then(() => {
        console.log(`[webgpu] submit #${id}: ${n} dispatches (${kernels}) done in ${(performance.now() - t0).toFixed(2)} ms`);
      });
    }
    this.encoder = null;
    this.inBatch = 0;
    this.used = 0;
    this.kernels = new Set();
    this.referenced = new Set();
    this.submitCount++;
    for (const h of this.submitHooks) h();
  }

  /** Throws the first device error already reported (synchronous). */
  throwReady(): void {
    const e = this.errors.shift();
    if (e) { this.errors.length = 0; throw e; }
  }

  /** Awaits the error checks of every submitted batch, then throws the first error. */
  async drain(): Promise<void> {
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
    this.throwReady();
  }

  destroy(): void {
    this.groups.clear();
    this.encoder = null;
    this.pass = null;
    this.uniformBuffer.destroy();
  }
}
