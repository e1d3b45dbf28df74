// Role: Node-only file loading for the dataset readers: read a file (clear error when missing),
// pass its path as the `source` of error messages, and locate the files shipped in
// `assets/data/`. The parsers themselves take strings and stay browser-safe.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCola, parseSst2 } from './glue.js';
import type { ReadOptions } from './issues.js';
import { parseSnliJsonl, parseSnliTxt, type SnliTxtOptions } from './snli.js';
import { parseTwilbertFinetune, parseTwilbertPairs, type TwilbertFinetuneOptions, type TwilbertPairsOptions } from './twilbert.js';
import { parseWikiText, type WikiTextOptions } from './wikitext.js';

/** Absolute path of a file under the repository's `assets/data/` (e.g. 'sst2/dev.tsv'). */
export function assetPath(relative: string): string {
  return fileURLToPath(new URL(`../../assets/data/${relative}`, import.meta.url));
}

/** Read a UTF-8 text file; a missing file is an Error that names the path. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`data file not found: ${path}`);
    throw new Error(`cannot read data file ${path}: ${(err as Error).message}`);
  }
}

type Opts<T extends ReadOptions> = Omit<T, 'source'>;

export const loadSst2 = (path: string, o: Opts<ReadOptions> = {}) => parseSst2(readTextFile(path), { ...o, source: path });
export const loadCola = (path: string, o: Opts<ReadOptions> = {}) => parseCola(readTextFile(path), { ...o, source: path });
export const loadSnliJsonl = (path: string, o: Opts<ReadOptions> = {}) => parseSnliJsonl(readTextFile(path), { ...o, source: path });
export const loadSnliTxt = (path: string, o: Opts<SnliTxtOptions> = {}) => parseSnliTxt(readTextFile(path), { ...o, source: path });
export const loadWikiText = (path: string, o: Opts<WikiTextOptions> = {}) => parseWikiText(readTextFile(path), { ...o, source: path });
export const loadTwilbertPairs = (path: string, o: Opts<TwilbertPairsOptions> = {}) => parseTwilbertPairs(readTextFile(path), { ...o, source: path });
export const loadTwilbertFinetune = (path: string, o: Opts<TwilbertFinetuneOptions> = {}) =>
  parseTwilbertFinetune(readTextFile(path), { ...o, source: path });
