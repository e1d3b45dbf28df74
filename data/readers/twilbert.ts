// Role: readers for TWilBERT's two TSV layouts: the pre-training pair file (ORIG_ID, ORIG_TEXT,
// REPLY_ID, REPLY_TEXT; tweet and reply, used for reply-order prediction) and the fine-tuning
// file (a header ID, TEXT[, more text columns], CLASS, mapped to ids through a category map).
// TWilBERT reads both with quoting off, so a `"` is an ordinary character here too.
// Browser-safe.

import { IssueCollector, type ReadOptions, type ReadResult } from './issues.js';
import { reportBlank, splitPlain } from './tsv.js';

export interface TweetReplyPair {
  origId: string;
  origText: string;
  replyId: string;
  replyText: string;
}

export interface TwilbertPairsOptions extends ReadOptions {
  /** Whether the first line is a header. Default 'auto': it is when its first field is ORIG_ID. */
  header?: boolean | 'auto';
}

export function parseTwilbertPairs(text: string, options: TwilbertPairsOptions = {}): ReadResult<TweetReplyPair> {
  const issues = new IssueCollector(options);
  let records = splitPlain(text);
  const header = options.header ?? 'auto';
  if (records.length > 0 && (header === true || (header === 'auto' && records[0]!.fields[0]!.trim().toUpperCase() === 'ORIG_ID'))) {
    records = records.slice(1);
  }
  const rows: TweetReplyPair[] = [];
  for (const r of records) {
    if (reportBlank(r, issues)) continue;
    if (r.fields.length !== 4) {
      issues.report(r.line, `expected 4 tab-separated fields (ORIG_ID, ORIG_TEXT, REPLY_ID, REPLY_TEXT), found ${r.fields.length}`, r.raw);
      continue;
    }
    const [origId, origText, replyId, replyText] = r.fields.map((f) => f.trim()) as [string, string, string, string];
    if (origId === '' || replyId === '') {
      issues.report(r.line, 'empty tweet id', r.raw);
      continue;
    }
    if (origText === '' || replyText === '') {
      issues.report(r.line, 'empty tweet or reply text', r.raw);
      continue;
    }
    rows.push({ origId, origText, replyId, replyText });
  }
  return { rows, skipped: issues.skipped, dropped: 0 };
}

export interface FinetuneExample {
  id: string;
  /** The text columns, in `textHeaders` order (one for single-text tasks). */
  texts: string[];
  /** The class name(s) as written in the file. */
  classNames: string[];
  /** Class id (single-label) — or ids (multiLabel) — from the category map. */
  label: number | number[];
}

export interface TwilbertFinetuneOptions extends ReadOptions {
  idHeader?: string;
  /** Text columns; default: every column except the id and class columns, in file order. */
  textHeaders?: string[];
  classHeader?: string;
  /** Class name -> id, as in TWilBERT's `"categories"` config. Default: sorted distinct names. */
  categories?: Record<string, number>;
  /** Classes are `|`-separated lists (TWilBERT's multi_label). */
  multiLabel?: boolean;
}

export interface FinetuneResult extends ReadResult<FinetuneExample> {
  categories: Record<string, number>;
  textHeaders: string[];
}

export function parseTwilbertFinetune(text: string, options: TwilbertFinetuneOptions = {}): FinetuneResult {
  const issues = new IssueCollector(options);
  const records = splitPlain(text);
  if (records.length === 0) issues.fatal(1, 'empty file: expected a header such as ID\\tTEXT\\tCLASS');
  const header = records[0]!.fields.map((h) => h.trim());
  const idH = options.idHeader ?? 'ID';
  const classH = options.classHeader ?? 'CLASS';
  const iId = header.indexOf(idH);
  const iClass = header.indexOf(classH);
  const textHeaders = options.textHeaders ?? header.filter((h) => h !== idH && h !== classH);
  const iTexts = textHeaders.map((h) => header.indexOf(h));
  if (iId < 0 || iClass < 0 || textHeaders.length === 0 || iTexts.some((i) => i < 0)) {
    issues.fatal(records[0]!.line, `bad header: need ${idH}, ${classH} and text columns (${textHeaders.join(', ') || 'none found'})`, records[0]!.raw);
  }
  const body = records.slice(1);
  const split = (c: string): string[] => (options.multiLabel ? c.split('|').map((s) => s.trim()) : [c.trim()]);
  let categories = options.categories;
  if (!categories) {
    const names = new Set<string>();
    for (const r of body) if (r.fields.length === header.length) for (const c of split(r.fields[iClass]!)) names.add(c);
    categories = Object.fromEntries([...names].sort().map((n, i) => [n, i]));
  }
  const rows: FinetuneExample[] = [];
  for (const r of body) {
    if (reportBlank(r, issues)) continue;
    if (r.fields.length !== header.length) {
      issues.report(r.line, `expected ${header.length} tab-separated fields (${header.join(', ')}), found ${r.fields.length}`, r.raw);
      continue;
    }
    const classNames = split(r.fields[iClass]!);
    const unknown = classNames.filter((c) => !(c in categories!));
    if (unknown.length > 0) {
      issues.report(r.line, `class ${JSON.stringify(unknown[0])} is not in the category map (${Object.keys(categories).join(', ')})`, r.raw);
      continue;
    }
    const ids = classNames.map((c) => categories![c]!);
    rows.push({
      id: r.fields[iId]!.trim(),
      texts: iTexts.map((i) => r.fields[i]!.trim()),
      classNames,
      label: options.multiLabel ? ids : ids[0]!,
    });
  }
  return { rows, skipped: issues.skipped, dropped: 0, categories, textHeaders };
}
