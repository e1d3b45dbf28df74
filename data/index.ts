// Role: browser-safe entry point of the data pipeline (PRNG, MLM masking, sentence-pair
// objectives, batching, dataset parsers). Node file loaders: `./readers/node.js`.

export * from './rng.js';
export * from './masking.js';
export * from './pairs.js';
export * from './batcher.js';
export * from './readers/index.js';
