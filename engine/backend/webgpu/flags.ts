// WebGPU enum values as numbers, so no file depends on the GPUBufferUsage/GPUShaderStage/GPUMapMode
// globals (absent in Node unless the `webgpu` package's globals are installed).
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
export const ShaderStage = { COMPUTE: 0x4 } as const;
export const MapMode = { READ: 0x0001 } as const;
