// Role: readers for GLUE SST-2 (header `sentence\tlabel`, rows `<sentence> \t<0|1>`) and the raw
// CoLA release (no header; source, label, author's mark, sentence). They parse strings; file
// loading is in `node.ts`. Browser-safe.

import { IssueCollector, type ReadOptions, type ReadResult } from './issues.js';
import { reportBlank, splitPlain } from './tsv.js';

export interface Sst2Example {
  sentence: string;
  /** 1 = positive, 0 = negative; null for the unlabeled GLUE test file. */
  label: 0 | 1 | null;
  /** The `index` column of the GLUE test file, when present. */
  index?: number;
}

/**
 * Parse GLUE SST-2 TSV. The header names the columns (`sentence`, `label`, optionally `index`).
 * The GLUE files put a space before the tab; sentences are returned without surrounding spaces.
 */
export function parseSst2(text: string, options: ReadOptions = {}): ReadResult<Sst2Example> {
  const issues = new IssueCollector(options);
  const records = splitPlain(text);
  if (records.length === 0) issues.fatal(1, 'empty file: expected a header `sentence\\tlabel`');
  const header = records[0]!.fields.map((f) => f.trim().toLowerCase());
  const iSent = header.indexOf('sentence');
  const iLabel = header.indexOf('label');
  const iIndex = header.indexOf('index');
  if (iSent < 0 || header.length < 2) {
    issues.fatal(records[0]!.line, 'bad header: expected columns `sentence` and `label` (or `index` and `sentence`)', records[0]!.raw);
  }
  const rows: Sst2Example[] = [];
  for (const r of records.slice(1)) {
    if (reportBlank(r, issues)) continue;
    if (r.fields.length !== header.length) {
      issues.report(r.line, `expected ${header.length} tab-separated fields, found ${r.fields.length}`, r.raw);
      continue;
    }
    const sentence = r.fields[iSent]!.trim();
    if (sentence === '') {
      issues.report(r.line, 'empty sentence', r.raw);
      continue;
    }
    let label: 0 | 1 | null = null;
    if (iLabel >= 0) {
      const l = r.fields[iLabel]!.trim();
      if (l !== '0' && l !== '1') {
        issues.report(r.line, `label must be 0 or 1, found ${JSON.stringify(l)}`, r.raw);
        continue;
      }
      label = l === '1' ? 1 : 0;
    }
    const ex: Sst2Example = { sentence, label };
    if (iIndex >= 0) {
      const idx = Number(r.fields[iIndex]!.trim());
      if (!Number.isInteger(idx)) {
        issues.report(r.line, `index must be an integer, found ${JSON.stringify(r.fields[iIndex])}`, r.raw);
        continue;
      }
      ex.index = idx;
    }
    rows.push(ex);
  }
  return { rows, skipped: issues.skipped, dropped: 0 };
}

export interface ColaExample {
  /** Code of the publication the sentence comes from (e.g. `gj04`). */
  source: string;
  /** 1 = acceptable, 0 = unacceptable. */
  label: 0 | 1;
  /** The original author's acceptability mark (`*`, `?*`, `??`, ... or ''). */
  mark: string;
  sentence: string;
}

/** Parse raw CoLA TSV (also GLUE's CoLA train/dev, which has the same four columns). */
export function parseCola(text: string, options: ReadOptions = {}): ReadResult<ColaExample> {
  const issues = new IssueCollector(options);
  const rows: ColaExample[] = [];
  for (const r of splitPlain(text)) {
    if (reportBlank(r, issues)) continue;
    if (r.fields.length !== 4) {
      issues.report(r.line, `expected 4 tab-separated fields (source, label, mark, sentence), found ${r.fields.length}`, r.raw);
      continue;
    }
    const [source, label, mark, sentence] = r.fields as [string, string, string, string];
    if (source.trim() === '') {
      issues.report(r.line, 'empty source code', r.raw);
      continue;
    }
    if (label !== '0' && label !== '1') {
      issues.report(r.line, `label must be 0 or 1, found ${JSON.stringify(label)}`, r.raw);
      continue;
    }
    if (sentence.trim() === '') {
      issues.report(r.line, 'empty sentence', r.raw);
      continue;
    }
    rows.push({ source, label: label === '1' ? 1 : 0, mark, sentence });
  }
  return { rows, skipped: issues.skipped, dropped: 0 };
}
