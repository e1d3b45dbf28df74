// Role: delimited-text record splitting for the readers: plain tab splitting (GLUE, CoLA,
// TWilBERT: no quoting, a `"` is an ordinary character) and a quote-aware CSV/TSV parser for
// pandas exports (fields containing `"` are wrapped in quotes with `""` inside, and may span
// lines). Records keep the line number they start on. Browser-safe.

import { IssueCollector, splitLines } from './issues.js';

export interface DelimitedRecord {
  /** 1-based line number where the record starts. */
  line: number;
  fields: string[];
  /** The raw text of the record, for error messages. */
  raw: string;
  /** A blank line: parsers report it (in line order) with `reportBlank`. */
  blank: boolean;
}

/** Report a blank record; returns true when the caller should skip it. */
export function reportBlank(r: DelimitedRecord, issues: IssueCollector): boolean {
  if (r.blank) issues.report(r.line, 'blank line');
  return r.blank;
}

/** One record per line, fields split on the delimiter; no quoting. */
export function splitPlain(text: string, delimiter = '\t'): DelimitedRecord[] {
  const out: DelimitedRecord[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    out.push({ line: i + 1, fields: raw.split(delimiter), raw, blank: raw.trim() === '' });
  }
  return out;
}

/**
 * RFC 4180-style parsing with a configurable delimiter: a field that starts with `"` runs to the
 * matching `"` (with `""` as an escaped quote) and may contain delimiters and newlines. A quote
 * that never closes is reported (the rest of the input cannot be trusted, so it is fatal).
 */
export function splitQuoted(text: string, issues: IssueCollector, delimiter = '\t'): DelimitedRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: DelimitedRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const startPos = i;
    const fields: string[] = [];
    let field = '';
    let endOfRecord = false;
    while (!endOfRecord) {
      if (i < n && text[i] === '"') {
        // Quoted field.
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) issues.fatal(startLine, 'unterminated quoted field', text.slice(startPos, startPos + 200));
        // After the closing quote only a delimiter or end of line may follow.
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          issues.fatal(line, 'text after a closing quote', text.slice(startPos, Math.min(n, i + 20)));
        }
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n') field += text[i++];
        if (field.endsWith('\r')) field = field.slice(0, -1);
      }
      if (i < n && text[i] === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      field = '';
      if (i >= n || text[i] === '\n') {
        endOfRecord = true;
        if (i < n) {
          i++;
          line++;
        }
      } else {
        i++; // delimiter
      }
    }
    const raw = text.slice(startPos, i).replace(/\r?\n$/, '');
    out.push({ line: startLine, fields, raw, blank: fields.length === 1 && fields[0]!.trim() === '' });
  }
  return out;
}
