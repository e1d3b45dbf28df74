// A small schema validator for JSON configs (TWilBERT-style nested experiment configs): typed
// fields, enums, defaults, nested objects, arrays and records, and rejection of unknown keys.
// Every problem is reported with its key path ('model.pkm_params.knn', 'layers[2].size'), all of
// them at once, in a ConfigError. Platform neutral.
//
//   const Schema = s.object({
//     model: s.object({ hidden_size: s.int({ min: 1, default: 768 }),
//                       pkm_params: s.optional(s.object({ knn: s.int({ min: 1 }) })) }),
//     optimizer: s.enum(['adam', 'lamb'] as const, { default: 'adam' }),
//   });
//   type Config = Infer<typeof Schema>;
//   const cfg = validateConfig(Schema, JSON.parse(text));   // throws ConfigError

export interface ConfigIssue {
  /** Dotted key path of the offending value ('' for the root). */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly issues: ConfigIssue[],
    source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}invalid config:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const INVALID: unique symbol = Symbol('invalid');
type Invalid = typeof INVALID;

export interface Schema<T> {
  readonly kind: string;
  readonly description?: string;
  /** The value used when the key is absent; `undefined` when the key is required. */
  readonly defaultValue?: () => T;
  /** Validates `value` found at `path`, pushing issues; returns the value with defaults applied. */
  check(value: unknown, path: string, issues: ConfigIssue[]): T | Invalid;
  /** A one-line type description ('integer >= 1', "'adam' | 'lamb'"). */
  describe(): string;
  /** Object schemas: their fields (for help output and CLI overrides). */
  readonly fields?: Record<string, Schema<unknown>>;
  /** optional / nullable: the wrapped schema. */
  readonly inner?: Schema<unknown>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

interface Common<T> {
  default?: T;
  description?: string;
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function clone<T>(v: T): T {
  return v === undefined || v === null || typeof v !== 'object' ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function make<T>(kind: string, common: Common<T> | undefined, describe: () => string, check: Schema<T>['check']): Schema<T> {
  const d = common?.default;
  return {
    kind,
    description: common?.description,
    defaultValue: d === undefined ? undefined : () => clone(d),
    check,
    describe,
  };
}

export interface NumberOptions extends Common<number> {
  min?: number;
  max?: number;
  /** Exclusive lower bound (e.g. a learning rate > 0). */
  gt?: number;
  int?: boolean;
}

function number(opts: NumberOptions = {}): Schema<number> {
  const what = opts.int ? 'an integer' : 'a number';
  const bounds = () =>
    [opts.gt !== undefined ? `> ${opts.gt}` : '', opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(', ');
  return make('number', opts, () => `${opts.int ? 'integer' : 'number'}${bounds() ? ` ${bounds()}` : ''}`, (v, path, issues) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return (issues.push({ path, message: `expected ${what}, got ${show(v)}` }), INVALID);
    if (opts.int && !Number.isInteger(v)) return (issues.push({ path, message: `expected an integer, got ${v}` }), INVALID);
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max) || (opts.gt !== undefined && !(v > opts.gt))) {
      return (issues.push({ path, message: `${v} is out of range (expected ${bounds()})` }), INVALID);
    }
    return v;
  });
}

export interface StringOptions extends Common<string> {
  pattern?: RegExp;
  minLength?: number;
}

function string(opts: StringOptions = {}): Schema<string> {
  return make('string', opts, () => `string${opts.pattern ? ` matching ${opts.pattern}` : ''}`, (v, path, issues) => {
    if (typeof v !== 'string') return (issues.push({ path, message: `expected a string, got ${show(v)}` }), INVALID);
    if (opts.minLength !== undefined && v.length < opts.minLength) return (issues.push({ path, message: `expected at least ${opts.minLength} characters, got ${v.length}` }), INVALID);
    if (opts.pattern && !opts.pattern.test(v)) return (issues.push({ path, message: `${JSON.stringify(v)} does not match ${opts.pattern}` }), INVALID);
    return v;
  });
}

function boolean(opts: Common<boolean> = {}): Schema<boolean> {
  return make('boolean', opts, () => 'boolean', (v, path, issues) => {
    if (typeof v !== 'boolean') return (issues.push({ path, message: `expected true or false, got ${show(v)}` }), INVALID);
    return v;
  });
}

function enumOf<const V extends readonly (string | number)[]>(values: V, opts: Common<V[number]> = {}): Schema<V[number]> {
  const list = values.map((x) => JSON.stringify(x)).join(' | ');
  return make('enum', opts, () => list, (v, path, issues) => {
    if (!values.includes(v as V[number])) {
      const hint = typeof v === 'string' ? suggest(v, values.filter((x): x is string => typeof x === 'string')) : '';
      return (issues.push({ path, message: `expected one of ${list}, got ${show(v)}${hint}` }), INVALID);
    }
    return v as V[number];
  });
}

export interface ArrayOptions<T> extends Common<T[]> {
  minLength?: number;
  maxLength?: number;
}

function array<T>(item: Schema<T>, opts: ArrayOptions<T> = {}): Schema<T[]> {
  return make('array', opts, () => `array of ${item.describe()}`, (v, path, issues) => {
    if (!Array.isArray(v)) return (issues.push({ path, message: `expected an array, got ${show(v)}` }), INVALID);
    if (opts.minLength !== undefined && v.length < opts.minLength) return (issues.push({ path, message: `expected at least ${opts.minLength} entries, got ${v.length}` }), INVALID);
    if (opts.maxLength !== undefined && v.length > opts.maxLength) return (issues.push({ path, message: `expected at most ${opts.maxLength} entries, got ${v.length}` }), INVALID);
    const out: T[] = [];
    let bad = false;
    v.forEach((x, i) => {
      const r = item.check(x, `${path}[${i}]`, issues);
      if (r === INVALID) bad = true;
      else out.push(r);
    });
    return bad ? INVALID : out;
  });
}

type Shape = Record<string, Schema<unknown>>;
export type InferShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export interface ObjectOptions {
  description?: string;
  /** Keep keys the shape does not name instead of rejecting them (default false). */
  allowUnknown?: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object<S extends Shape>(shape: S, opts: ObjectOptions = {}): Schema<InferShape<S>> {
  const keys = Object.keys(shape);
  // An absent object is filled from its fields' defaults when every field has one (or is optional).
  const allDefaulted = keys.every((k) => shape[k].defaultValue !== undefined || shape[k].kind === 'optional');
  const schema: Schema<InferShape<S>> = {
    kind: 'object',
    description: opts.description,
    fields: shape,
    defaultValue: allDefaulted ? () => schema.check({}, '', []) as InferShape<S> : undefined,
    describe: () => `object {${keys.join(', ')}}`,
    check(v, path, issues) {
      if (!isPlainObject(v)) return (issues.push({ path, message: `expected an object, got ${show(v)}` }), INVALID);
      const out: Record<string, unknown> = {};
      let bad = false;
      for (const k of Object.keys(v)) {
        if (Object.prototype.hasOwnProperty.call(shape, k)) continue;
        if (opts.allowUnknown) {
          out[k] = v[k];
          continue;
        }
        issues.push({ path: join(path, k), message: `unknown key (allowed: ${keys.join(', ') || 'none'})${suggest(k, keys)}` });
        bad = true;
      }
      for (const k of keys) {
        const field = shape[k];
        const p = join(path, k);
        if (!Object.prototype.hasOwnProperty.call(v, k) || v[k] === undefined) {
          if (field.defaultValue) out[k] = field.defaultValue();
          else if (field.kind !== 'optional') {
            issues.push({ path: p, message: `missing required key (${field.describe()})` });
            bad = true;
          }
          continue;
        }
        const r = field.check(v[k], p, issues);
        if (r === INVALID) bad = true;
        else if (r !== undefined) out[k] = r;
      }
      return bad ? INVALID : (out as InferShape<S>);
    },
  };
  return schema;
}

function record<T>(value: Schema<T>, opts: Common<Record<string, T>> & { keyPattern?: RegExp } = {}): Schema<Record<string, T>> {
  return make('record', opts, () => `record of ${value.describe()}`, (v, path, issues) => {
    if (!isPlainObject(v)) return (issues.push({ path, message: `expected an object, got ${show(v)}` }), INVALID);
    const out: Record<string, T> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      if (opts.keyPattern && !opts.keyPattern.test(k)) {
        issues.push({ path: join(path, k), message: `key does not match ${opts.keyPattern}` });
        bad = true;
        continue;
      }
      const r = value.check(x, join(path, k), issues);
      if (r === INVALID) bad = true;
      else out[k] = r;
    }
    return bad ? INVALID : out;
  });
}

/** The key may be absent (value undefined); present values must match `inner`. */
function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return { kind: 'optional', description: inner.description, inner: inner as Schema<unknown>, describe: () => `${inner.describe()} (optional)`, check: (v, p, i) => inner.check(v, p, i) };
}

/** null is accepted besides `inner`'s values. */
function nullable<T>(inner: Schema<T>, opts: Common<T | null> = {}): Schema<T | null> {
  const d = opts.default !== undefined ? opts.default : inner.defaultValue?.();
  const sch = make('nullable', { default: d, description: opts.description ?? inner.description }, () => `${inner.describe()} | null`, (v, p, i) =>
    v === null ? null : inner.check(v, p, i),
  );
  return { ...sch, inner: inner as Schema<unknown> };
}

/** Any JSON value, unchecked. */
function any(opts: Common<unknown> = {}): Schema<unknown> {
  return make('any', opts, () => 'any', (v) => v);
}

export const s = { number, int: (o: Omit<NumberOptions, 'int'> = {}) => number({ ...o, int: true }), string, boolean, enum: enumOf, array, object, record, optional, nullable, any };

/** Validates a parsed JSON value against a schema; throws ConfigError listing every issue. */
export function validateConfig<T>(schema: Schema<T>, value: unknown, source?: string): T {
  const issues: ConfigIssue[] = [];
  const r = schema.check(value, '', issues);
  if (r === INVALID || issues.length > 0) throw new ConfigError(issues, source);
  return r;
}

/** Parses JSON text (errors name the source) and validates it. */
export function parseConfig<T>(schema: Schema<T>, text: string, source = 'config'): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([{ path: '', message: `not valid JSON: ${(e as Error).message}` }], source);
  }
  return validateConfig(schema, value, source);
}

/** The config made of defaults only (throws when a required key has none). */
export function configDefaults<T>(schema: Schema<T>): T {
  return validateConfig(schema, {});
}

/** ' - did you mean 'x'?' for the closest candidate within edit distance 2 (or a prefix match). */
function suggest(word: string, candidates: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) || word.startsWith(c) ? 1 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best && bestD <= 2 ? `; did you mean '${best}'?` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The schema of the value at a dotted key path ('model.pkm_params.knn'), or undefined. */
export function schemaAt(schema: Schema<unknown>, path: string): Schema<unknown> | undefined {
  let cur: Schema<unknown> | undefined = schema;
  for (const key of path.split('.')) {
    while (cur?.inner) cur = cur.inner;
    cur = cur?.fields?.[key];
    if (!cur) return undefined;
  }
  return cur;
}

/** One line per leaf key: path, type, default and description (for --help output). */
export function describeSchema(schema: Schema<unknown>, path = ''): string[] {
  let inner = schema;
  while (inner.inner) inner = inner.inner;
  if (inner.fields) return Object.entries(inner.fields).flatMap(([k, f]) => describeSchema(f, join(path, k)));
  const d = schema.defaultValue ? ` (default ${JSON.stringify(schema.defaultValue())})` : schema.kind === 'optional' ? '' : ' (required)';
  return [`${path || '(root)'}: ${schema.describe()}${d}${schema.description ? ` - ${schema.description}` : ''}`];
}
