// Role: readers for SNLI 1.0: the JSON-lines layout (`premise`/`hypothesis`/`label`, or the
// original `sentence1`/`sentence2`/`gold_label`) and the tab-separated layouts (the original
// `snli_1.0_*.txt` with a header, and pandas/HF exports with CSV quoting and 0/1/2 labels).
// Pairs whose gold label is '-' (no annotator consensus) or -1 are dropped and counted.
// Browser-safe.

import { IssueCollector, splitLines, type ReadOptions, type ReadResult } from './issues.js';
import { reportBlank, splitPlain, splitQuoted } from './tsv.js';

export type NliLabel = 'entailment' | 'neutral' | 'contradiction';

/** Label ids in the Hugging Face `snli` order. */
export const SNLI_LABELS: readonly NliLabel[] = ['entailment', 'neutral', 'contradiction'];

export interface SnliExample {
  premise: string;
  hypothesis: string;
  label: NliLabel;
  /** 0 entailment, 1 neutral, 2 contradiction. */
  labelId: number;
}

type LabelCheck = { ok: true; label: NliLabel } | { ok: false; drop: boolean; message: string };

function checkLabel(raw: unknown): LabelCheck {
  if (raw === '-' || raw === -1 || raw === '-1') return { ok: false, drop: true, message: '' };
  if (typeof raw === 'number' || (typeof raw === 'string' && /^[012]$/.test(raw))) {
    return { ok: true, label: SNLI_LABELS[Number(raw)]! };
  }
  if (typeof raw === 'string' && (SNLI_LABELS as readonly string[]).includes(raw)) return { ok: true, label: raw as NliLabel };
  return { ok: false, drop: false, message: `label must be entailment/neutral/contradiction (or 0/1/2, '-' to drop), found ${JSON.stringify(raw)}` };
}

function makeExample(premise: string, hypothesis: string, label: NliLabel): SnliExample {
  return { premise, hypothesis, label, labelId: SNLI_LABELS.indexOf(label) };
}

/** Parse SNLI JSON lines. Malformed JSON, missing fields and unknown labels are issues. */
export function parseSnliJsonl(text: string, options: ReadOptions = {}): ReadResult<SnliExample> {
  const issues = new IssueCollector(options);
  const rows: SnliExample[] = [];
  let dropped = 0;
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    if (raw.trim() === '') {
      issues.report(lineNo, 'blank line');
      continue;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      issues.report(lineNo, `invalid JSON: ${(err as Error).message}`, raw);
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      issues.report(lineNo, 'expected a JSON object', raw);
      continue;
    }
    const o = obj as Record<string, unknown>;
    const premise = o.premise ?? o.sentence1;
    const hypothesis = o.hypothesis ?? o.sentence2;
    const label = 'label' in o ? o.label : o.gold_label;
    if (typeof premise !== 'string' || typeof hypothesis !== 'string') {
      issues.report(lineNo, 'missing or non-string "premise"/"hypothesis" (or "sentence1"/"sentence2")', raw);
      continue;
    }
    const c = checkLabel(label);
    if (!c.ok) {
      if (c.drop) dropped++;
      else issues.report(lineNo, c.message, raw);
      continue;
    }
    rows.push(makeExample(premise, hypothesis, c.label));
  }
  return { rows, skipped: issues.skipped, dropped };
}

export interface SnliTxtOptions extends ReadOptions {
  /**
   * 'none': split on tabs (the original snli_1.0 txt files); 'csv': pandas-style quoting.
   * Default 'auto': 'csv' when the header has `premise`/`hypothesis` columns (an HF/pandas
   * export), 'none' for the original `sentence1`/`sentence2`/`gold_label` layout.
   */
  quoting?: 'auto' | 'csv' | 'none';
}

/** Parse SNLI tab-separated text with a header row. */
export function parseSnliTxt(text: string, options: SnliTxtOptions = {}): ReadResult<SnliExample> {
  const issues = new IssueCollector(options);
  const firstLine = splitLines(text.slice(0, 4096))[0] ?? '';
  const headerGuess = firstLine.split('\t').map((h) => h.trim());
  const quoting = options.quoting ?? 'auto';
  const useCsv = quoting === 'csv' || (quoting === 'auto' && headerGuess.includes('premise'));
  const records = useCsv ? splitQuoted(text, issues) : splitPlain(text);
  if (records.length === 0) issues.fatal(1, 'empty file: expected a header row');
  const header = records[0]!.fields.map((h) => h.trim());
  const col = (...names: string[]): number => names.map((n) => header.indexOf(n)).find((i) => i >= 0) ?? -1;
  const iP = col('premise', 'sentence1');
  const iH = col('hypothesis', 'sentence2');
  const iL = col('label', 'gold_label');
  if (iP < 0 || iH < 0 || iL < 0) {
    issues.fatal(records[0]!.line, 'bad header: need premise/sentence1, hypothesis/sentence2 and label/gold_label columns', records[0]!.raw);
  }
  const rows: SnliExample[] = [];
  let dropped = 0;
  for (const r of records.slice(1)) {
    if (reportBlank(r, issues)) continue;
    if (r.fields.length !== header.length) {
      issues.report(r.line, `expected ${header.length} fields, found ${r.fields.length}`, r.raw);
      continue;
    }
    const c = checkLabel(r.fields[iL]!.trim());
    if (!c.ok) {
      if (c.drop) dropped++;
      else issues.report(r.line, c.message, r.raw);
      continue;
    }
    rows.push(makeExample(r.fields[iP]!, r.fields[iH]!, c.label));
  }
  return { rows, skipped: issues.skipped, dropped };
}
