// A tiny command-line flag parser for the examples, driven by a config schema (train/config.ts):
//   --epochs 3   --lr=2e-5   --model.hidden_size 128   --fp16   --no-shuffle   --tags a,b   -- rest
// Values are converted by the schema type at the flag's key path (numbers, booleans, enums, arrays
// split on commas), merged over an optional base config (e.g. a JSON file) and validated, so an
// unknown flag or a bad value is a ConfigError naming the key path. Platform neutral: pass
// process.argv.slice(2).

import { ConfigError, describeSchema, schemaAt, validateConfig, type ConfigIssue, type Schema } from './config.js';

export interface ParsedFlags {
  /** Nested object of the flags given (dotted names become nested keys). */
  values: Record<string, unknown>;
  /** Arguments that are not flags, and everything after '--'. */
  positionals: string[];
  /** --help or -h was given. */
  help: boolean;
}

function convert(raw: string, schema: Schema<unknown> | undefined, path: string, issues: ConfigIssue[]): unknown {
  let sch = schema;
  while (sch && (sch.kind === 'optional' || sch.kind === 'nullable') && sch.inner) {
    if (sch.kind === 'nullable' && raw === 'null') return null;
    sch = sch.inner;
  }
  switch (sch?.kind) {
    case 'number': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (Number.isNaN(v)) issues.push({ path, message: `expected a number, got ${JSON.stringify(raw)}` });
      return v;
    }
    case 'boolean':
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      issues.push({ path, message: `expected true or false, got ${JSON.stringify(raw)}` });
      return raw;
    case 'array':
      return raw === '' ? [] : raw.split(',').map((x) => jsonish(x.trim()));
    case 'string':
      return raw;
    case 'enum':
    case 'any':
    case 'record':
    case 'object':
    default:
      return jsonish(raw);
  }
}

/** A number, boolean, null or JSON object/array when the text is one; the text otherwise. */
function jsonish(raw: string): unknown {
  if (/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false' || raw === 'null' || raw.startsWith('{') || raw.startsWith('[')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

/** Parses flags; with a schema, values are converted by type and unknown flags are rejected. */
export function parseFlags(argv: readonly string[], schema?: Schema<unknown>): ParsedFlags {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const issues: ConfigIssue[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!a.startsWith('--') || a.length === 2) {
      positionals.push(a);
      continue;
    }
    const body = a.slice(2);
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let sch = schema ? schemaAt(schema, name) : undefined;
    if (schema && !sch && raw === undefined && name.startsWith('no-')) {
      // --no-flag for a boolean
      const base = name.slice(3);
      const b = schemaAt(schema, base);
      if (b && unwrap(b).kind === 'boolean') {
        name = base;
        sch = b;
        raw = 'false';
      }
    }
    if (schema && !sch) {
      issues.push({ path: name, message: `unknown flag --${name}` });
      if (raw === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('--')) i++;
      continue;
    }
    if (raw === undefined) {
      const isBool = sch ? unwrap(sch).kind === 'boolean' : i + 1 >= argv.length || argv[i + 1].startsWith('--');
      if (isBool && !(i + 1 < argv.length && /^(true|false)$/.test(argv[i + 1]))) raw = 'true';
      else if (i + 1 < argv.length) raw = argv[++i];
      else {
        issues.push({ path: name, message: `flag --${name} needs a value` });
        continue;
      }
    }
    setPath(values, name, schema ? convert(raw, sch, name, issues) : jsonish(raw));
  }
  if (issues.length > 0) throw new ConfigError(issues, 'command line');
  return { values, positionals, help };
}

function unwrap(s: Schema<unknown>): Schema<unknown> {
  let cur = s;
  while (cur.inner) cur = cur.inner;
  return cur;
}

/** Deep merge of plain objects: `over` wins; arrays and other values are replaced, not merged. */
export function mergeDeep(base: unknown, over: unknown): unknown {
  const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!plain(base) || !plain(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}

/**
 * Parses flags over `base` (e.g. a parsed JSON config file) and validates the result.
 * Returns the typed config, positionals and the help switch.
 */
export function parseArgs<T>(argv: readonly string[], schema: Schema<T>, base: unknown = {}): { config: T; positionals: string[]; help: boolean } {
  const flags = parseFlags(argv, schema as Schema<unknown>);
  if (flags.help) return { config: undefined as unknown as T, positionals: flags.positionals, help: true };
  const config = validateConfig(schema, mergeDeep(base, flags.values), 'config');
  return { config, positionals: flags.positionals, help: false };
}

/** Help text: the usage line, then one line per flag with its type and default. */
export function helpText(schema: Schema<unknown>, usage: string): string {
  return [usage, '', 'flags:', ...describeSchema(schema).map((l) => `  --${l}`)].join('\n');
}
