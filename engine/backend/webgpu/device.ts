// Adapter and device acquisition, platform neutral: takes any `GPU` object (navigator.gpu in a
// browser, the object from the `webgpu` package's create() in Node; see node.ts).

/** Limits the engine relies on; requested at the adapter's maximum. */
export const ENGINE_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxUniformBufferBindingSize',
  'maxBindingsPerBindGroup',
] as const;
export type EngineLimit = (typeof ENGINE_LIMITS)[number];

/** What the engine needs at the least (the compute kernels bind up to 6 storage buffers). */
const MINIMUM: Partial<Record<EngineLimit, number>> = {
  maxStorageBuffersPerShaderStage: 6,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
};

export type FeatureLevel = 'core' | 'compatibility';

export interface AdapterReport {
  /** Native API behind the adapter (vulkan, metal, d3d12, opengles, ...), or 'unknown'. */
  backend: string;
  /** True when `backend` was guessed from the description/platform rather than chosen. */
  backendInferred: boolean;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  featureLevel: FeatureLevel;
  isFallbackAdapter: boolean;
  limits: Record<EngineLimit, number>;
  features: string[];
  /** WGSL language features of the GPU object (navigator.gpu.wgslLanguageFeatures), sorted. */
  wgslFeatures: string[];
}

export const INSTALL_HINT =
  'On Debian/Ubuntu without a GPU, install Mesa\'s software OpenGL ES driver: ' +
  '`apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri` (or run `bash scripts/setup-gpu.sh`, which also probes the adapter). ' +
  'With a GPU, install its Vulkan driver (e.g. mesa-vulkan-drivers or the vendor driver) and libvulkan1.';

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(`WebGPU: no adapter available (${detail}). ${INSTALL_HINT}`);
    this.name = 'NoAdapterError';
  }
}

export interface AcquireOptions {
  /** Feature level to request; 'compatibility' for OpenGL (ES) backends. Default 'core'. */
  featureLevel?: FeatureLevel;
  powerPreference?: GPUPowerPreference;
  /** Milliseconds to wait for requestAdapter/requestDevice before giving up. Default 10000. */
  timeoutMs?: number;
  /** Backend name for the report when the caller chose it (node.ts does); otherwise inferred. */
  backend?: string;
  /** The GPU object's wgslLanguageFeatures (acquireDevice and node.ts pass them). */
  wgslFeatures?: Iterable<string>;
}

export interface AcquiredDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new NoAdapterError(`${what} did not answer within ${ms} ms`)), ms);
    (timer as { unref?: () => void }).unref?.();
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}

/** Requests an adapter (null when none) guarded by a timeout. */
export async function requestAdapter(gpu: GPU, opts: AcquireOptions = {}): Promise<GPUAdapter | null> {
  const ms = opts.timeoutMs ?? 10_000;
  const req: GPURequestAdapterOptions & { featureLevel?: string } = {};
  if (opts.featureLevel) req.featureLevel = opts.featureLevel;
  if (opts.powerPreference) req.powerPreference = opts.powerPreference;
  return withTimeout(gpu.requestAdapter(req), ms, 'requestAdapter');
}

/** Creates a device with the engine's limits raised to the adapter's maxima. */
export async function deviceFromAdapter(adapter: GPUAdapter, opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of ENGINE_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  for (const [name, min] of Object.entries(MINIMUM)) {
    if ((requiredLimits[name] ?? 0) < min!) {
      throw new Error(`WebGPU adapter too limited: ${name} = ${requiredLimits[name]} < ${min} needed by the engine`);
    }
  }
  const device = await withTimeout(adapter.requestDevice({ requiredLimits }), opts.timeoutMs ?? 10_000, 'requestDevice');
  const report = adapterReport(adapter, device, opts);
  return { adapter, device, report };
}

/** Requests an adapter and device on `gpu`; throws NoAdapterError (with install hints) when none. */
export async function acquireDevice(gpu: GPU | undefined | null, opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  if (!gpu) throw new NoAdapterError('no WebGPU implementation (navigator.gpu is undefined)');
  const adapter = await requestAdapter(gpu, opts);
  if (!adapter) throw new NoAdapterError(`requestAdapter(featureLevel: ${opts.featureLevel ?? 'core'}) returned null`);
  return deviceFromAdapter(adapter, { wgslFeatures: (gpu as { wgslLanguageFeatures?: Iterable<string> }).wgslLanguageFeatures, ...opts });
}

function guessBackend(description: string): string {
  const d = description.toLowerCase();
  if (d.includes('opengl es')) return 'opengles';
  if (d.includes('opengl')) return 'opengl';
  if (d.includes('vulkan')) return 'vulkan';
  if (d.includes('metal')) return 'metal';
  if (d.includes('direct3d') || d.includes('d3d')) return 'd3d12';
  const platform = (globalThis as { process?: { platform?: string } }).process?.platform;
  if (platform === 'darwin') return 'metal';
  if (platform === 'win32') return 'd3d12';
  if (platform === 'linux') return 'vulkan';
  return 'unknown';
}

/** Report of an adapter (and the limits its device got, when given). Reads GPUAdapterInfo fields explicitly. */
export function adapterReport(adapter: GPUAdapter, device?: GPUDevice, opts: AcquireOptions = {}): AdapterReport {
  const info = (adapter as { info?: GPUAdapterInfo }).info ?? ({} as GPUAdapterInfo);
  const anyInfo = info as unknown as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const description = str(info.description);
  const explicitBackend = str(anyInfo['backendType']) || opts.backend;
  const features = [...adapter.features].map(String).sort();
  const src = (device?.limits ?? adapter.limits) as unknown as Record<string, number>;
  const limits = {} as Record<EngineLimit, number>;
  for (const name of ENGINE_LIMITS) limits[name] = src[name] ?? 0;
  const featureLevel: FeatureLevel =
    features.includes('core-features-and-limits') || (opts.featureLevel ?? 'core') === 'core' ? 'core' : 'compatibility';
  return {
    backend: explicitBackend ? explicitBackend.toLowerCase() : guessBackend(description),
    backendInferred: !explicitBackend,
    vendor: str(info.vendor),
    architecture: str(info.architecture),
    device: str(info.device),
    description,
    featureLevel,
    isFallbackAdapter: Boolean(anyInfo['isFallbackAdapter']),
    limits,
    features,
    wgslFeatures: [...(opts.wgslFeatures ?? [])].map(String).sort(),
  };
}

/** One line naming the adapter, for logs. */
export function describeAdapter(r: AdapterReport): string {
  const name = [r.vendor, r.architecture, r.device].filter(Boolean).join(' ') || '(unnamed)';
  return `${name} | ${r.description || 'no description'} | backend ${r.backend}${r.backendInferred ? ' (inferred)' : ''}, ${r.featureLevel}` +
    `${r.isFallbackAdapter ? ', fallback adapter' : ''}`;
}
