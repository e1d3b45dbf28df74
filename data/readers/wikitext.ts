// Role: reader for WikiText (the tokenized `wiki.*.tokens` release): splits the text into
// articles (at ` = Title = ` headings), paragraphs (non-blank lines; section headings
// ` = = Section = = ` are dropped) and sentences (ending at a ` . `, ` ? ` or ` ! ` token), the
// document structure NSP and SOP need. Browser-safe.

import { IssueCollector, splitLines, type ReadOptions } from './issues.js';

export interface WikiArticle {
  title: string;
  /** 1-based line of the title (0 for text before the first title). */
  line: number;
  /** Paragraphs, each a list of sentences (space-separated tokens, as in the file). */
  paragraphs: string[][];
}

export interface WikiTextOptions extends ReadOptions {
  /** Undo the WikiText number/hyphen tokens: ` @-@ ` -> `-`, ` @,@ ` -> `,`, ` @.@ ` -> `.`. Default false. */
  detokenize?: boolean;
  /** Replace the `<unk>` token with this string (e.g. '[UNK]', which the tokenizer keeps whole). */
  unkReplacement?: string;
}

export interface WikiTextResult {
  articles: WikiArticle[];
  skipped: import('./issues.js').ParseIssue[];
}

const END_TOKENS = new Set(['.', '?', '!']);

/** Split one paragraph (space-separated tokens) into sentences, keeping the final punctuation. */
export function splitWikiSentences(paragraph: string): string[] {
  const toks = paragraph.split(' ').filter((t) => t !== '');
  const out: string[] = [];
  let cur: string[] = [];
  for (const t of toks) {
    cur.push(t);
    if (END_TOKENS.has(t)) {
      out.push(cur.join(' '));
      cur = [];
    }
  }
  if (cur.length) out.push(cur.join(' '));
  return out;
}

/** Heading level (1 for ` = T = `, 2 for ` = = T = = `, ...), 0 if not a heading, -1 if malformed. */
function headingLevel(t: string): { level: number; title: string } {
  if (!t.startsWith('= ') && t !== '=') return { level: 0, title: '' };
  const m = /^((?:= )+)(.*?)((?: =)+)$/.exec(t);
  if (!m) return { level: -1, title: '' };
  const open = m[1]!.length / 2;
  const close = m[3]!.length / 2;
  if (open !== close || m[2]!.trim() === '') return { level: -1, title: '' };
  return { level: open, title: m[2]!.trim() };
}

export function parseWikiText(text: string, options: WikiTextOptions = {}): WikiTextResult {
  const issues = new IssueCollector(options);
  const articles: WikiArticle[] = [];
  let current: WikiArticle | null = null;
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t === '') continue;
    const h = headingLevel(t);
    if (h.level === -1) {
      issues.report(i + 1, 'malformed heading: the `=` marks on both sides must match', lines[i]!);
      continue;
    }
    if (h.level === 1) {
      current = { title: h.title, line: i + 1, paragraphs: [] };
      articles.push(current);
      continue;
    }
    if (h.level > 1) continue; // section headings carry no sentences
    let p = t;
    if (options.detokenize) p = p.replace(/ @([-,.])@ /g, '$1');
    if (options.unkReplacement !== undefined) p = p.replace(/<unk>/g, options.unkReplacement);
    if (current === null) {
      current = { title: '', line: 0, paragraphs: [] };
      articles.push(current);
    }
    current.paragraphs.push(splitWikiSentences(p));
  }
  return { articles, skipped: issues.skipped };
}
