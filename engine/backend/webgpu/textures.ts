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
