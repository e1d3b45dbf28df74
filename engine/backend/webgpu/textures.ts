// Pool of rgba32float textures for matmul's texture strategy (kernels/matmul-tex.ts).
//
// A texture is only ever written by copyBufferToTexture recorded in the same command encoder as
// the dispatches that read it; commands of one queue run in order, so a texture released after a
// dispatch can be handed out again at once (unlike buffers, which queue.writeBuffer may overwrite
// ahead of the pending encoder: see pool.ts). Keyed by exact width and a power-of-two height.

/**
 * TEXTURE_BINDING | COPY_DST | STORAGE_BINDING. STORAGE_BINDING lets a kernel bind a pooled texture as
 * a read-only rgba32float storage texture, whose loads are ~3x cheaper than sampled-texture loads on
 * llvmpipe (image-RxC matmul strategies, serial-image row kernels, image-input elementwise kernels).
 */
const USAGE = 0x04 | 0x02 | 0x08;

export interface PooledTexture {
  texture: GPUTexture;
  view: GPUTextureView;
  width: number;
  height: number;
}

export class TexturePool {
  private readonly free = new Map<string, PooledTexture[]>();
  private readonly live = new Set<PooledTexture>();
  private created = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A texture of exactly `width` columns and at least `height` rows. */
  acquire(width: number, height: number): PooledTexture {
    const h = 2 ** Math.ceil(Math.log2(Math.max(1, height)));
    const rows = Math.min(h, Math.max(height, this.device.limits.maxTextureDimension2D));
    const key = `${width}x${rows}`;
    let t = this.free.get(key)?.pop();
    if (!t) {
      const texture = this.device.createTexture({
        label: `matmul-tex:${key}`, size: [width, rows, 1], format: 'rgba32float', usage: USAGE, dimension: '2d',
      });
      t = { texture, view: texture.createView({ label: `matmul-tex:${key}` }), width, height: rows };
      this.created++;
    }
    this.live.add(t);
    return t;
  }

  release(t: PooledTexture): void {
    if (!this.live.delete(t)) throw new Error('texture pool: texture released twice');
    const key = `${t.width}x${t.height}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(t);
  }

  stats(): { live: number; pooled: number; created: number } {
    let pooled = 0;
    for (const l of this.free.values()) pooled += l.length;
    return { live: this.live.size, pooled, created: this.created };
  }

  trim(): void {
    for (const l of this.free.values()) for (const t of l) t.texture.destroy();
    this.free.clear();
  }

  destroy(): void {
    this.trim();
    for (const t of this.live) t.texture.destroy();
    this.live.clear();
  }
}

/** The cache's default budget (WebGPUBackendOptions.textureCacheBytes). */
export const DEFAULT_TEXTURE_CACHE_BYTES = 256 * 2 ** 20;

/**
 * Textures that hold a copy of a storage buffer's first texels, kept after the dispatch so that the
 * next plan reading the same unchanged buffer as a texture skips the copy (on llvmpipe a BERT-small
 * training step copied 724 MB into textures, 265 MB of it a second or third time: an activation read
 * by the Q, K and V products, a gradient by dX, dW and the bias sum, a weight by the forward and dX).
 * Only plan inputs are cached (a plan never writes its inputs); the backend invalidates a buffer's
 * entry whenever it may change (as a dispatch output, an in-place op's copy-back, a write, a free),
 * so a hit is always the buffer's current contents. Least recently used entries beyond `maxBytes` go
 * back to the pool; textures in use by the plan being recorded are pinned until it is recorded.
 */
export class TextureCache {
  private readonly entries = new Map<GPUBuffer, { tex: PooledTexture; texels: number }>();
  private readonly cached = new Set<PooledTexture>();
  /** Textures handed out to the plan being recorded (count of uses). */
  private readonly pins = new Map<PooledTexture, number>();
  private bytes = 0;
  hits = 0;

  constructor(private readonly pool: TexturePool, private maxBytes: number) {}

  /** Changes the budget (0: cache nothing, every read copies afresh); evicts what no longer fits. */
  setBudget(bytes: number): void {
    this.maxBytes = bytes;
    this.finish([]);
  }

  /** The cached texture of `buf` with `texels` texels at `width` (pinned until finish), or null. */
  take(buf: GPUBuffer, texels: number, width: number): PooledTexture | null {
    if (this.maxBytes <= 0) return null;
    const e = this.entries.get(buf);
    if (!e || e.texels !== texels || e.tex.width !== width) return null;
    this.entries.delete(buf); // re-insert: most recently used last
    this.entries.set(buf, e);
    this.pin(e.tex);
    this.hits++;
    return e.tex;
  }

  /** Caches `tex`, just filled from `buf` (pinned until finish). */
  put(buf: GPUBuffer, tex: PooledTexture, texels: number): void {
    this.invalidate(buf);
    if (this.maxBytes <= 0) { this.pin(tex); return; } // not cached: released by finish
    this.entries.set(buf, { tex, texels });
    this.cached.add(tex);
    this.bytes += tex.width * tex.height * 16;
    this.pin(tex);
  }

  /** Forgets `buf`'s texture (its contents may change); it returns to the pool once unpinned. */
  invalidate(buf: GPUBuffer): void {
    const e = this.entries.get(buf);
    if (!e) return;
    this.entries.delete(buf);
    this.cached.delete(e.tex);
    this.bytes -= e.tex.width * e.tex.height * 16;
    if (!this.pins.has(e.tex)) this.pool.release(e.tex);
  }

  /** Unpins the textures a plan took or put (once per use), then evicts beyond the budget. */
  finish(used: readonly PooledTexture[]): void {
    for (const t of used) {
      const n = (this.pins.get(t) ?? 1) - 1;
      if (n > 0) { this.pins.set(t, n); continue; }
      this.pins.delete(t);
      if (!this.cached.has(t)) this.pool.release(t);
    }
    for (const [b, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      if (!this.pins.has(e.tex)) this.invalidate(b);
    }
  }

  clear(): void {
    for (const b of [...this.entries.keys()]) this.invalidate(b);
  }

  private pin(t: PooledTexture): void {
    this.pins.set(t, (this.pins.get(t) ?? 0) + 1);
  }
}
