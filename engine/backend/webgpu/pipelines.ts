// Compute pipeline cache keyed by WGSL text.
//
// Pipelines are created with the synchronous createComputePipeline so Backend.run() can record a
// dispatch immediately; validation happens asynchronously: every new pipeline gets an error scope
// plus getCompilationInfo(), and the result is checked at the next flush (if it already arrived) and
// always awaited at the next read / validate(). A WGSL compile error is reported with Dawn's
// messages and the offending source lines, numbered. Because creation is synchronous there are no
// in-flight compiles to deduplicate: a second request for the same WGSL hits the cache at once.

import type { Access, KernelSource } from '../../../kernels/common.js';
import { ShaderStage } from './flags.js';

export class WgslCompileError extends Error {
  constructor(readonly kernel: string, readonly details: string) {
    super(`WGSL compile error in kernel ${kernel}:\n${details}`);
    this.name = 'WgslCompileError';
  }
}

interface Entry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Set once validation found the pipeline invalid; later uses throw it at once. */
  error?: Error;
}

/** Formats compilation messages with numbered source lines around each one. */
export function formatCompilationMessages(wgsl: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = wgsl.split('\n');
  const width = String(lines.length).length;
  const out: string[] = [];
  for (const m of messages) {
    out.push(`${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}`);
    if (m.lineNum >= 1 && m.lineNum <= lines.length) {
      for (let l = Math.max(1, m.lineNum - 2); l <= Math.min(lines.length, m.lineNum + 2); l++) {
        const mark = l === m.lineNum ? '>' : ' ';
        out.push(`${mark} ${String(l).padStart(width)} | ${lines[l - 1]}`);
        if (l === m.lineNum && m.linePos >= 1) out.push(`  ${' '.repeat(width)} | ${' '.repeat(m.linePos - 1)}^`);
      }
    }
  }
  return out.join('\n');
}

export class PipelineCache {
  private readonly bySource = new Map<KernelSource, Entry>();
  private readonly byWgsl = new Map<string, Entry>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private checks: Promise<void>[] = [];
  private errors: Error[] = [];

  constructor(private readonly device: GPUDevice, private readonly debug = 0) {}

  pipelineCount(): number {
    return this.byWgsl.size;
  }

  layoutFor(bindings: readonly Access[], hasUniform: boolean): GPUBindGroupLayout {
    const key = bindings.map((b) => ({ read: 'r', write: 'w', texture: 't', image: 'i' })[b]).join('') + (hasUniform ? 'u' : '');
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = bindings.map((b, i) => (b === 'texture'
        ? { binding: i, visibility: ShaderStage.COMPUTE, texture: { sampleType: 'unfilterable-float', viewDimension: '2d' } }
        : b === 'image'
          ? { binding: i, visibility: ShaderStage.COMPUTE, storageTexture: { access: 'read-only', format: 'rgba32float', viewDimension: '2d' } }
          : { binding: i, visibility: ShaderStage.COMPUTE, buffer: { type: b === 'read' ? 'read-only-storage' : 'storage' } }));
      // The uniform slot is a dynamic offset into the shared per-batch uniform buffer, so bind groups
      // can be cached per set of storage buffers (see queue.ts).
      if (hasUniform) entries.push({ binding: bindings.length, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
      layout = this.device.createBindGroupLayout({ label: `layout:${key}`, entries });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** The pipeline for `src` (created on first use). Throws at once for a pipeline known to be invalid. */
  get(src: KernelSource): Entry {
    let e = this.bySource.get(src);
    if (e) {
      if (e.error) throw e.error;
      return e;
    }
    e = this.byWgsl.get(src.wgsl);
    if (e?.error) throw e.error;
    if (!e) {
      e = this.create(src);
      this.byWgsl.set(src.wgsl, e);
    }
    this.bySource.set(src, e);
    return e;
  }

  private create(src: KernelSource): Entry {
    if (this.debug >= 3) console.log(`[webgpu] WGSL ${src.key}:\n${numbered(src.wgsl)}`);
    const layout = this.layoutFor(src.bindings, src.uniform !== null);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: src.key, code: src.wgsl });
    const pipeline = this.device.createComputePipeline({
      label: src.key,
      layout: this.device.createPipelineLayout({ label: src.key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const scope = this.device.popErrorScope();
    const info = module.getCompilationInfo();
    const entry: Entry = { pipeline, layout };
    const fail = (e: Error) => { entry.error = e; this.errors.push(e); };
    const check = Promise.all([scope, info]).then(([err, ci]) => {
      const bad = ci.messages.filter((m) => m.type === 'error');
      if (bad.length > 0) fail(new WgslCompileError(src.key, formatCompilationMessages(src.wgsl, bad)));
      else if (err) fail(new Error(`WebGPU pipeline ${src.key}: ${err.message}`));
    }, (e: unknown) => { fail(new Error(`WebGPU pipeline ${src.key}: validation check failed: ${String(e)}`)); });
    this.checks.push(check);
    return entry;
  }

  /** Throws the first pipeline error that already arrived (synchronous; used by flush). */
  throwReady(): void {
    const e = this.errors.shift();
    if (e) { this.errors = []; throw e; }
  }

  /** Awaits every pending check and throws the first error. */
  async validate(): Promise<void> {
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
    this.throwReady();
  }
}

export function numbered(wgsl: string): string {
  const lines = wgsl.split('\n');
  const w = String(lines.length).length;
  return lines.map((l, i) => `${String(i + 1).padStart(w)} | ${l}`).join('\n');
}
