// Role: browser-safe entry point of the tokenizer package. Node file helpers (reading vocab.txt
// from disk) are in `./load-node.js`, imported separately.

export * from './vocab.js';
export * from './unicode.js';
export * from './basic.js';
export * from './wordpiece.js';
export * from './truncation.js';
export * from './bert-tokenizer.js';
export * from './trainer.js';
