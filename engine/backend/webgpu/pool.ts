// Size-bucketed GPU buffer pool.
//
// Buckets are powers of two and 1.5x powers of two (at most 1/3 wasted), 256 bytes at the least.
// Hazard handled here: a buffer released while the pending (not yet submitted) command encoder
// still references it must not be handed out again before that encoder is submitted, because a
// queue.writeBuffer into the new owner would execute *before* the pending commands that still read
// the old contents. Released buffers therefore wait in a pending list that joins the pool at
// `onSubmit()`. Work already submitted is safe: later queue operations are ordered after it.

export interface PoolStats {
  /** Buffers handed out and not released. */
  live: number;
  /** Bytes held by the live buffers (bucket sizes). */
  liveBytes: number;
  /** Buffers (and bytes) available for reuse. */
  pooled: number;
  pooledBytes: number;
  /** Released buffers waiting for the pending encoder's submit. */
  pendingRelease: number;
  /** createBuffer calls so far, and requests served from the pool. */
  allocations: number;
  reuses: number;
}

export const MIN_BUCKET = 256;

/** The bucket size serving `bytes`: 2^k or 1.5 * 2^k, at least MIN_BUCKET. */
export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BUCKET) return MIN_BUCKET;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarters = (p / 4) * 3;
  return bytes <= threeQuarters ? threeQuarters : p;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly sizes = new Map<GPUBuffer, number>();
  private readonly liveSet = new Set<GPUBuffer>();
  private pooledBytes = 0;
  private liveBytes = 0;
  private allocations = 0;
  private reuses = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    /** Pooled bytes above this are destroyed instead of kept. */
    private readonly maxPooledBytes = 1 << 30,
    private readonly label = 'pool',
  ) {}

  /** A buffer of at least `bytes` bytes (its contents are whatever a previous owner left). */
  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.reuses++;
    } else {
      buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
      this.sizes.set(buf, size);
      this.allocations++;
    }
    this.liveSet.add(buf);
    this.liveBytes += size;
    return buf;
  }

  /**
   * Gives a buffer back. `inPendingEncoder`: the not-yet-submitted encoder references it, so it
   * becomes reusable only at the next onSubmit().
   */
  release(buf: GPUBuffer, inPendingEncoder: boolean): void {
    if (!this.liveSet.delete(buf)) throw new Error(`${this.label}: buffer released twice or not from this pool`);
    this.liveBytes -= this.sizes.get(buf)!;
    if (inPendingEncoder) this.pending.push(buf);
    else this.toPool(buf);
  }

  /** Destroys a live buffer instead of pooling it (e.g. one whose mapping failed). */
  discard(buf: GPUBuffer): void {
    if (!this.liveSet.delete(buf)) throw new Error(`${this.label}: buffer discarded twice or not from this pool`);
    this.liveBytes -= this.sizes.get(buf)!;
    this.sizes.delete(buf);
    buf.destroy();
  }

  /** Call after the pending encoder was submitted. */
  onSubmit(): void {
    const p = this.pending;
    this.pending = [];
    for (const b of p) this.toPool(b);
  }

  private toPool(buf: GPUBuffer): void {
    const size = this.sizes.get(buf)!;
    if (this.pooledBytes + size > this.maxPooledBytes) {
      this.sizes.delete(buf);
      buf.destroy();
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.pooledBytes += size;
  }

  /** Destroys every pooled buffer (live and pending ones are left alone). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) { this.sizes.delete(b); b.destroy(); }
    this.free.clear();
    this.pooledBytes = 0;
  }

  /** Destroys everything, live buffers included. */
  destroy(): void {
    this.trim();
    for (const b of this.pending) b.destroy();
    for (const b of this.liveSet) b.destroy();
    this.pending = [];
    this.liveSet.clear();
    this.sizes.clear();
    this.liveBytes = 0;
  }

  stats(): PoolStats {
    let pooled = 0;
    for (const list of this.free.values()) pooled += list.length;
    return {
      live: this.liveSet.size,
      liveBytes: this.liveBytes,
      pooled,
      pooledBytes: this.pooledBytes,
      pendingRelease: this.pending.length,
      allocations: this.allocations,
      reuses: this.reuses,
    };
  }
}
