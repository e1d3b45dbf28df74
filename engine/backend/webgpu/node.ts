// Node entry point: the only file that imports the `webgpu` package (Dawn's Node bindings).
//
// Backend choice:
//   1. env WEBGPU_BACKEND (or opts.backend) = vulkan | metal | d3d12 | d3d11 | opengles | opengl | null
//      forces that Dawn backend (core feature level first, then compatibility).
//   2. otherwise Dawn's default (native: Vulkan/Metal/D3D12) at feature level core;
//   3. when that finds no adapter, OpenGL ES (then desktop OpenGL) at feature level compatibility,
//      which is how machines without a GPU run: Mesa's llvmpipe through EGL surfaceless.
// No adapter at all gives one NoAdapterError saying what to install.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { create } from 'webgpu';
import { autotuneMatmul, type AutotuneCache } from './autotune.js';
import { NoAdapterError, deviceFromAdapter, requestAdapter, type AcquiredDevice, type FeatureLevel } from './device.js';
import { WebGPUBackend, type WebGPUBackendOptions } from './webgpu.js';

// Dawn crashes if the GPU object returned by create() is collected while devices live: keep every
// instance for the life of the process.
const instances: GPU[] = [];

export interface NodeAcquireOptions {
  /** Forces a Dawn backend; default from env WEBGPU_BACKEND, else automatic. */
  backend?: string;
  /** requestAdapter/requestDevice timeout in ms (default 10000). */
  timeoutMs?: number;
}

interface Attempt {
  backend: string | undefined;
  featureLevels: FeatureLevel[];
}

function instance(backend: string | undefined): GPU {
  if (backend === 'opengles' || backend === 'opengl') process.env['EGL_PLATFORM'] ??= 'surfaceless';
  const gpu = create(backend ? [`backend=${backend}`] : []);
  instances.push(gpu);
  return gpu;
}

/** Acquires a device following the backend choice above. */
export async function acquireNodeDevice(opts: NodeAcquireOptions = {}): Promise<AcquiredDevice> {
  const forced = (opts.backend ?? process.env['WEBGPU_BACKEND'] ?? '').trim().toLowerCase() || undefined;
  const attempts: Attempt[] = forced
    ? [{ backend: forced, featureLevels: ['core', 'compatibility'] }]
    : [
        { backend: undefined, featureLevels: ['core'] },
        { backend: 'opengles', featureLevels: ['compatibility'] },
        { backend: 'opengl', featureLevels: ['compatibility'] },
      ];
  const tried: string[] = [];
  for (const at of attempts) {
    let gpu: GPU;
    try {
      gpu = instance(at.backend);
    } catch (e) {
      tried.push(`${at.backend ?? 'default'}: ${(e instanceof Error ? e.message : String(e)).split('\n').join(' ')}`);
      continue;
    }
    for (const featureLevel of at.featureLevels) {
      let adapter: GPUAdapter | null = null;
      try {
        adapter = await requestAdapter(gpu, { featureLevel, timeoutMs: opts.timeoutMs });
      } catch (e) {
        tried.push(`${at.backend ?? 'default'}/${featureLevel}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (!adapter) {
        tried.push(`${at.backend ?? 'default'}/${featureLevel}: no adapter`);
        continue;
      }
      return deviceFromAdapter(adapter, { featureLevel, timeoutMs: opts.timeoutMs, backend: at.backend, wgslFeatures: gpu.wgslLanguageFeatures });
    }
  }
  throw new NoAdapterError(`tried ${tried.join('; ')}${forced ? ` (forced by ${opts.backend ? 'option' : 'WEBGPU_BACKEND'}=${forced})` : ''}`);
}

export interface NodeBackendOptions extends NodeAcquireOptions, WebGPUBackendOptions {
  /**
   * Pick the matmul strategy by measuring (autotune.ts) before returning; default true unless env
   * WEBGPU_AUTOTUNE=0. The choice is cached per adapter in memory and, when `autotuneFile` (or env
   * WEBGPU_AUTOTUNE_FILE) names a JSON file, there too.
   */
  autotune?: boolean;
  autotuneFile?: string;
}

/** Creates the WebGPU backend on the best adapter Node can get. */
export async function createNodeBackend(opts: NodeBackendOptions = {}): Promise<WebGPUBackend> {
  const { device, report } = await acquireNodeDevice(opts);
  const backend = new WebGPUBackend(device, report, opts);
  if ((opts.autotune ?? process.env['WEBGPU_AUTOTUNE'] !== '0') && !backend.matmulStrategyForced) {
    const file = opts.autotuneFile ?? process.env['WEBGPU_AUTOTUNE_FILE'];
    let cache: AutotuneCache | undefined;
    if (file && existsSync(file)) {
      try { cache = JSON.parse(readFileSync(file, 'utf8')) as AutotuneCache; } catch { cache = undefined; }
    }
    await autotuneMatmul(backend, { cache, save: file ? (c) => writeFileSync(file, JSON.stringify(c, null, 2)) : undefined });
  }
  return backend;
}
