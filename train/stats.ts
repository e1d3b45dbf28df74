// Training statistics as JSON Lines and CSV (one record per epoch or per logged step), and parsers
// that read them back. Columns are the union of the records' keys in first-seen order; numbers are
// written with full precision (String(x) round-trips), missing values as empty CSV cells / absent
// JSON keys, non-finite numbers as null in JSONL and as NaN / Infinity in CSV. Platform neutral.

export type StatValue = number | string | boolean | null;
export type StatRecord = Record<string, StatValue>;

/** One JSON object per line, newline-terminated. */
export function toJsonl(records: readonly StatRecord[]): string {
  return records.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))).join('\n') + (records.length ? '\n' : '');
}

/** Parses JSON Lines (blank lines skipped); errors name the line. */
export function parseJsonl(text: string): StatRecord[] {
  const out: StatRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`JSONL line ${i + 1}: ${(e as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`JSONL line ${i + 1}: expected an object`);
    out.push(v as StatRecord);
  });
  return out;
}

/** The union of the records' keys in first-seen order. */
export function columnsOf(records: readonly StatRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function csvCell(v: StatValue | undefined): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header row. */
export function toCsv(records: readonly StatRecord[], columns: readonly string[] = columnsOf(records)): string {
  const lines = [columns.map((c) => csvCell(c)).join(',')];
  for (const r of records) lines.push(columns.map((c) => csvCell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

function splitCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
    i++;
  }
  if (quoted) throw new Error('CSV: unterminated quoted cell');
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function parseCell(s: string): StatValue | undefined {
  if (s === '') return undefined;
  if (s === 'NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  if (s === 'true') return true;
  if (s === 'false') return false;
  const n = Number(s);
  return s.trim() !== '' && Number.isFinite(n) && /^[-+]?(\d|\.\d)/.test(s) ? n : s;
}

/** Parses CSV written by toCsv: numbers become numbers, empty cells are left out of the record. */
export function parseCsv(text: string): StatRecord[] {
  const rows = splitCsv(text);
  if (rows.length === 0) return [];
  const header = rows[0];
  return rows.slice(1).map((cells, r) => {
    if (cells.length !== header.length) throw new Error(`CSV row ${r + 2}: ${cells.length} cells, header has ${header.length}`);
    const rec: StatRecord = {};
    header.forEach((h, i) => {
      const v = parseCell(cells[i]);
      if (v !== undefined) rec[h] = v;
    });
    return rec;
  });
}
