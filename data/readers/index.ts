// Role: browser-safe entry point of the dataset readers (string parsers). Node file loaders are
// in `./node.js`, imported separately so browser bundles never pull in node:fs.

export * from './issues.js';
export * from './tsv.js';
export * from './glue.js';
export * from './snli.js';
export * from './wikitext.js';
export * from './twilbert.js';
