// Public entry of the engine (platform neutral: no Node imports; see engine/node.ts for Dawn).
export * from './backend/spec.js';
export { ReferenceBackend } from './backend/reference/reference.js';
export { Tensor, tensor, scalar, empty, setDefaultBackend, getDefaultBackend, type CreateOptions } from './tensor.js';
export { backward } from './autodiff.js';
export { tidy, tidyAsync, keep, startScope, endScope, noGrad, isGradEnabled } from './scope.js';
export { setSeed, nextSeed } from './seed.js';
export * as F from './ops/api.js';
export { zeros, ones, full, randn, randUniform } from './creation.js';
export { Module } from './nn/module.js';
export { Linear, Embedding, LayerNorm, Dropout } from './nn/layers.js';
export { Optimizer, SGD, Adam, AdamW, LAMB, decayGroups, clipGradNorm, type ParamGroup } from './optim/optimizer.js';
export { LRScheduler, linearWarmupDecay, noam, constantSchedule, type Schedule } from './optim/schedules.js';
