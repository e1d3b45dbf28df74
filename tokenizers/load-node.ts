// Role: Node-only file helpers for the tokenizer: read a `vocab.txt` from disk (with clear
// errors for a missing or empty file), build a BertTokenizer from it, write a trained vocabulary.
// Kept out of the browser-safe modules on purpose: only this file imports node:fs.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BertTokenizer, type BertTokenizerOptions } from './bert-tokenizer.js';
import { Vocab, VocabError, vocabToText } from './vocab.js';

/** Read and parse a vocab file. Throws VocabError naming the path when it is missing or empty. */
export function readVocabFile(path: string): Vocab {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VocabError(`vocab file not found: ${path}`);
    if (code === 'EISDIR') throw new VocabError(`vocab path is a directory, expected a vocab.txt file: ${path}`);
    throw new VocabError(`cannot read vocab file ${path}: ${(err as Error).message}`);
  }
  return Vocab.parse(text, path);
}

/** A BertTokenizer for the vocabulary at `path` (lowercasing auto-detected unless given). */
export function loadBertTokenizer(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
  return new BertTokenizer(readVocabFile(path), options);
}

/** Write tokens as vocab.txt (one a line, final newline), creating the folder if needed. */
export function writeVocabFile(path: string, tokens: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, vocabToText(tokens), 'utf8');
}
