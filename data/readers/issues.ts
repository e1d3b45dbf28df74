// Role: shared error handling for the dataset readers. Every malformed line is reported with its
// file (source) and line number; the caller chooses whether that is fatal ('throw', the default)
// or the line is skipped and recorded ('skip'). Nothing is ever silently mis-parsed.
// Browser-safe.

export type OnError = 'throw' | 'skip';

export interface ParseIssue {
  /** File name or other label of the input. */
  source: string;
  /** 1-based line number (the first line of a multi-line record). */
  line: number;
  message: string;
  /** The offending text, cut to 200 characters. */
  text: string;
}

export class ParseError extends Error {
  constructor(readonly issue: ParseIssue) {
    super(formatIssue(issue));
    this.name = 'ParseError';
  }
}

export function formatIssue(i: ParseIssue): string {
  return `${i.source}:${i.line}: ${i.message}` + (i.text ? ` (line: ${JSON.stringify(i.text)})` : '');
}

export interface ReadOptions {
  /** Name used in messages; the node loaders pass the file path. Default '<input>'. */
  source?: string;
  /** 'throw' (default) stops at the first malformed line; 'skip' drops it and records it. */
  onError?: OnError;
  /** Called for every skipped line (e.g. to log a warning). */
  onIssue?: (issue: ParseIssue) => void;
}

export interface ReadResult<T> {
  rows: T[];
  /** Malformed lines that were skipped (only with onError: 'skip'). */
  skipped: ParseIssue[];
  /** Well-formed lines left out on purpose (e.g. SNLI pairs without a gold label). */
  dropped: number;
}

/** Collects issues for one input; throws or records according to the options. */
export class IssueCollector {
  readonly source: string;
  readonly skipped: ParseIssue[] = [];
  private readonly mode: OnError;
  private readonly onIssue?: (issue: ParseIssue) => void;

  constructor(options: ReadOptions = {}) {
    this.source = options.source ?? '<input>';
    this.mode = options.onError ?? 'throw';
    if (this.mode !== 'throw' && this.mode !== 'skip') throw new RangeError(`onError must be 'throw' or 'skip', got ${JSON.stringify(this.mode)}`);
    this.onIssue = options.onIssue;
  }

  /** Report a malformed line: throws ParseError in 'throw' mode, else records it. */
  report(line: number, message: string, text = ''): void {
    const issue: ParseIssue = { source: this.source, line, message, text: text.length > 200 ? text.slice(0, 200) + '…' : text };
    if (this.mode === 'throw') throw new ParseError(issue);
    this.skipped.push(issue);
    this.onIssue?.(issue);
  }

  /** Errors about the whole input (e.g. a missing header) are always fatal. */
  fatal(line: number, message: string, text = ''): never {
    throw new ParseError({ source: this.source, line, message, text });
  }
}

/**
 * Split text into lines: strips a UTF-8 BOM, accepts LF or CRLF, and drops the empty string
 * after a final newline (so a file with or without a final newline gives the same lines).
 */
export function splitLines(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}
