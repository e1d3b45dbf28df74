// Role: a WordPiece vocabulary (the `vocab.txt` format: one token a line, id = zero-based line
// number) with lookups both ways and special-token lookup by name. Browser-safe: it parses a
// string; reading the file from disk lives in `load-node.ts`.

/** Raised for a missing, empty or unusable vocabulary. */
export class VocabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VocabError';
  }
}

/** Names of the special tokens BERT needs. Ids are looked up, never assumed (BETO differs). */
export interface SpecialTokenNames {
  pad: string;
  unk: string;
  cls: string;
  sep: string;
  mask: string;
}

export const BERT_SPECIAL_TOKENS: SpecialTokenNames = {
  pad: '[PAD]',
  unk: '[UNK]',
  cls: '[CLS]',
  sep: '[SEP]',
  mask: '[MASK]',
};

export class Vocab {
  private readonly ids: Map<string, number>;

  private constructor(
    readonly tokens: readonly string[],
    readonly source: string,
  ) {
    this.ids = new Map();
    // A token listed twice keeps its *last* line number, as both the Google and the HF loaders
    // do (they insert into a dict in file order).
    tokens.forEach((t, i) => this.ids.set(t, i));
  }

  /**
   * Parse `vocab.txt` text. Line endings may be LF or CRLF; trailing whitespace on a line is
   * dropped (HF's `trim_end`). `source` names the file in error messages.
   */
  static parse(text: string, source = '<vocab string>'): Vocab {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const tokens = lines.map((l) => l.replace(/\s+$/u, ''));
    if (tokens.length === 0 || tokens.every((t) => t === '')) {
      throw new VocabError(`vocabulary ${source} is empty: expected one token per line`);
    }
    return new Vocab(tokens, source);
  }

  static fromTokens(tokens: readonly string[], source = '<token list>'): Vocab {
    if (tokens.length === 0) throw new VocabError(`vocabulary ${source} is empty`);
    return new Vocab([...tokens], source);
  }

  /** Number of ids (lines), i.e. the embedding table size. */
  get size(): number {
    return this.tokens.length;
  }

  id(token: string): number | undefined {
    return this.ids.get(token);
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  token(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Id of a token that must exist, with an error that says which role it plays. */
  requireId(token: string, role: string): number {
    const id = this.ids.get(token);
    if (id === undefined) {
      throw new VocabError(`vocabulary ${this.source} has no ${role} token ${JSON.stringify(token)}`);
    }
    return id;
  }

  /** The map token -> id (read-only view). */
  entries(): ReadonlyMap<string, number> {
    return this.ids;
  }

  /** `vocab.txt` text: one token a line, final newline. */
  toText(): string {
    return vocabToText(this.tokens);
  }
}

export function vocabToText(tokens: readonly string[]): string {
  for (let i = 0; i < tokens.length; i++) {
    if (/[\r\n]/.test(tokens[i]!)) throw new VocabError(`token ${i} contains a line break: ${JSON.stringify(tokens[i])}`);
  }
  return tokens.join('\n') + '\n';
}
