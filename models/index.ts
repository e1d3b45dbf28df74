// Public entry of the model zoo: BERT, ALBERT, product-key memories, task heads, feature
// extraction and Hugging Face checkpoint I/O (platform neutral; file helpers in checkpoint-node.ts).
export * from './configs.js';
export { Block, ModuleList, activation } from './block.js';
export * from './bert.js';
export * from './heads.js';
export * from './albert.js';
export { HashingMemory, BatchNorm1d, ValueTable, type HashingMemoryOptions } from './pkm.js';
export * from './losses.js';
export * from './features.js';
export * from './auto.js';
export * from './checkpoint.js';
