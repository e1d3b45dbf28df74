// Role: dataset readers on the real files (row and label counts as published) and on malformed
// input: every bad line is reported with its file and line number, fatal by default, skipped and
// recorded with onError: 'skip', never silently mis-parsed.

import { describe, expect, it } from 'vitest';
import { parseCola, parseSst2 } from '../../data/readers/glue.js';
import { ParseError, type ParseIssue } from '../../data/readers/issues.js';
import { assetPath, loadCola, loadSnliJsonl, loadSnliTxt, loadSst2, loadWikiText } from '../../data/readers/node.js';
import { parseSnliJsonl, parseSnliTxt } from '../../data/readers/snli.js';
import { splitQuoted } from '../../data/readers/tsv.js';
import { IssueCollector } from '../../data/readers/issues.js';
import { parseTwilbertFinetune, parseTwilbertPairs } from '../../data/readers/twilbert.js';
import { parseWikiText, splitWikiSentences } from '../../data/readers/wikitext.js';
import { loadBertTokenizer } from '../../tokenizers/load-node.js';

function countBy<T>(xs: readonly T[], key: (x: T) => string | number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/** Expect `fn` to throw a ParseError whose message starts with `source:line:`. */
function expectParseError(fn: () => unknown, source: string, line: number, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ParseError);
    const e = err as ParseError;
    expect(e.message.startsWith(`${source}:${line}: `)).toBe(true);
    expect(e.message).toMatch(pattern);
    expect(e.issue.line).toBe(line);
    return;
  }
  throw new Error('expected a ParseError');
}

describe('real files: counts as published', () => {
  it('SST-2 dev and train', () => {
    const dev = loadSst2(assetPath('sst2/dev.tsv'));
    expect(dev.rows).toHaveLength(872);
    expect(countBy(dev.rows, (r) => r.label!)).toEqual({ 1: 444, 0: 428 });
    expect(dev.rows[0]).toEqual({ sentence: "it 's a charming and often affecting journey .", label: 1 });
    const train = loadSst2(assetPath('sst2/train.tsv'));
    expect(train.rows).toHaveLength(67_349);
    expect(countBy(train.rows, (r) => r.label!)).toEqual({ 1: 37_569, 0: 29_780 });
    expect(train.rows[48_104]!.sentence).toBe('10,000');
    expect(train.skipped).toEqual([]);
  });

  it('CoLA raw files', () => {
    const expected = { in_domain_train: [6023, 2528], in_domain_dev: [365, 162], out_of_domain_dev: [354, 162] };
    for (const [file, [pos, neg]] of Object.entries(expected)) {
      const r = loadCola(assetPath(`cola/${file}.tsv`));
      expect(r.rows).toHaveLength(pos! + neg!);
      expect(countBy(r.rows, (x) => x.label)).toEqual({ 1: pos, 0: neg });
    }
    const dev = loadCola(assetPath('cola/in_domain_dev.tsv')).rows;
    expect(dev[0]).toEqual({ source: 'gj04', label: 1, mark: '', sentence: 'The sailors rode the breeze clear of the rocks.' });
    expect(dev.filter((r) => r.label === 0).every((r) => r.mark !== '')).toBe(true);
  });

  it('SNLI dev/test JSON lines, and the CSV-quoted test TSV equals test.jsonl row for row', () => {
    const dev = loadSnliJsonl(assetPath('snli/dev.jsonl'));
    expect(dev.rows).toHaveLength(9842);
    expect(countBy(dev.rows, (r) => r.label)).toEqual({ entailment: 3329, neutral: 3235, contradiction: 3278 });
    const test = loadSnliJsonl(assetPath('snli/test.jsonl'));
    expect(countBy(test.rows, (r) => r.label)).toEqual({ entailment: 3368, neutral: 3219, contradiction: 3237 });
    const tsv = loadSnliTxt(assetPath('snli/test.tsv'));
    expect(tsv.rows).toEqual(test.rows);
    expect(tsv.rows.some((r) => r.premise.includes('"'))).toBe(true);
  });

  it('WikiText-2 valid: 60 articles, paragraphs, sentences', () => {
    const { articles, skipped } = loadWikiText(assetPath('wikitext-2/wiki.valid.tokens'));
    expect(skipped).toEqual([]);
    expect(articles).toHaveLength(60);
    expect(articles[0]!.title).toBe('Homarus gammarus');
    const paragraphs = articles.reduce((s, a) => s + a.paragraphs.length, 0);
    expect(paragraphs).toBe(1841);
    const sentences = articles.flatMap((a) => a.paragraphs.flat());
    expect(sentences[0]).toMatch(/^Homarus gammarus , known as the European lobster .* \.$/);
    console.log(`[readers] WikiText-2 valid: ${articles.length} articles, ${paragraphs} paragraphs, ${sentences.length} sentences`);
  });

  it('a missing data file names the path', () => {
    expect(() => loadSst2('/nonexistent/dev.tsv')).toThrow('data file not found: /nonexistent/dev.tsv');
  });
});

describe('malformed input is reported with file and line', () => {
  const sst = 'sentence\tlabel\ngood one \t1\nno label here\nbad label \t2\n\nfine \t0\n';

  it('SST-2: fatal by default at the first bad line', () => {
    expectParseError(() => parseSst2(sst, { source: 'sst.tsv' }), 'sst.tsv', 3, /expected 2 tab-separated fields, found 1/);
  });

  it('SST-2: skipped and recorded with onError: skip, good rows intact', () => {
    const seen: ParseIssue[] = [];
    const r = parseSst2(sst, { source: 'sst.tsv', onError: 'skip', onIssue: (i) => seen.push(i) });
    expect(r.rows).toEqual([
      { sentence: 'good one', label: 1 },
      { sentence: 'fine', label: 0 },
    ]);
    expect(r.skipped.map((i) => [i.source, i.line])).toEqual([
      ['sst.tsv', 3],
      ['sst.tsv', 4],
      ['sst.tsv', 5],
    ]);
    expect(r.skipped[1]!.message).toMatch(/label must be 0 or 1, found "2"/);
    expect(r.skipped[2]!.message).toBe('blank line');
    expect(seen).toEqual(r.skipped);
  });

  it('SST-2: a missing header is always fatal', () => {
    expectParseError(() => parseSst2('hello \t1\n', { source: 'x.tsv', onError: 'skip' }), 'x.tsv', 1, /bad header/);
  });

  it('CoLA: wrong column count and bad labels', () => {
    const text = 'gj04\t1\t\tGood sentence.\ngj04\t1\tBroken line without sentence\ngj04\tx\t*\tBad label.\n';
    expectParseError(() => parseCola(text, { source: 'cola.tsv' }), 'cola.tsv', 2, /expected 4 tab-separated fields/);
    const r = parseCola(text, { source: 'cola.tsv', onError: 'skip' });
    expect(r.rows).toHaveLength(1);
    expect(r.skipped.map((i) => i.line)).toEqual([2, 3]);
  });

  it('SNLI jsonl: broken JSON, missing fields and unknown labels; "-" labels are dropped, not errors', () => {
    const text = [
      '{"premise": "A man.", "hypothesis": "A person.", "label": "entailment"}',
      '{"premise": "A man.", "hypothesis": "A person.", "label": "-"}',
      '{"premise": "A man.", "hypothesis": ',
      '{"premise": "A man.", "label": "neutral"}',
      '{"sentence1": "A dog.", "sentence2": "A cat.", "gold_label": "contradiction"}',
      '{"premise": "A man.", "hypothesis": "A person.", "label": "maybe"}',
      '[1, 2]',
    ].join('\n');
    expectParseError(() => parseSnliJsonl(text, { source: 'dev.jsonl' }), 'dev.jsonl', 3, /invalid JSON/);
    const r = parseSnliJsonl(text, { source: 'dev.jsonl', onError: 'skip' });
    expect(r.rows.map((x) => [x.label, x.labelId])).toEqual([
      ['entailment', 0],
      ['contradiction', 2],
    ]);
    expect(r.dropped).toBe(1);
    expect(r.skipped.map((i) => i.line)).toEqual([3, 4, 6, 7]);
    expect(r.skipped[2]!.message).toMatch(/label must be entailment\/neutral\/contradiction/);
  });

  it('SNLI txt, original layout: split on tabs (quotes are plain text), "-" dropped', () => {
    const header = 'gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tcaptionID\tpairID';
    const row = (g: string, s1: string, s2: string) => [g, '( x )', '( y )', '(ROOT x)', '(ROOT y)', s1, s2, 'c1', 'p1'].join('\t');
    const text = [header, row('neutral', 'He said "hi.', 'Someone spoke.'), row('-', 'a', 'b'), row('entailment', 'x', 'y').slice(0, -3), row('contradiction', 'A', 'B')].join('\n');
    const r = parseSnliTxt(text, { source: 'snli_1.0_dev.txt', onError: 'skip' });
    expect(r.rows.map((x) => [x.premise, x.label])).toEqual([
      ['He said "hi.', 'neutral'],
      ['A', 'contradiction'],
    ]);
    expect(r.dropped).toBe(1);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]!.line).toBe(4);
  });

  it('CSV-quoted TSV: quotes, embedded tabs and newlines; an unterminated quote is fatal with its line', () => {
    const ok = 'a\tb\n"he said ""hi"""\t"tab\there"\n"multi\nline"\tx\nlast\ty\n';
    const recs = splitQuoted(ok, new IssueCollector({ source: 'q.tsv' }));
    expect(recs.map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, ['he said "hi"', 'tab\there']],
      [3, ['multi\nline', 'x']],
      [5, ['last', 'y']],
    ]);
    expectParseError(() => splitQuoted('a\tb\n"open\tc\nd\te\n', new IssueCollector({ source: 'q.tsv', onError: 'skip' })), 'q.tsv', 2, /unterminated quoted field/);
  });

  it('WikiText: malformed headings are reported; sentences split at . ? !', () => {
    const text = ' = Title = \n \n Some text . More text ? Last bit \n = = Section = = \n = = Broken = \n Tail @-@ piece <unk> . \n';
    expectParseError(() => parseWikiText(text, { source: 'wiki.tokens' }), 'wiki.tokens', 5, /malformed heading/);
    const r = parseWikiText(text, { source: 'wiki.tokens', onError: 'skip', detokenize: true, unkReplacement: '[UNK]' });
    expect(r.articles).toEqual([{ title: 'Title', line: 1, paragraphs: [['Some text .', 'More text ?', 'Last bit'], ['Tail-piece [UNK] .']] }]);
    expect(r.skipped[0]!.line).toBe(5);
    expect(splitWikiSentences('a . b ! c')).toEqual(['a .', 'b !', 'c']);
    const tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
    expect(tok.tokenize('Tail-piece [UNK] .')).toEqual(['tail', '-', 'piece', '[UNK]', '.']);
  });

  it('TWilBERT pair TSV: 4 columns, optional header, bad lines reported', () => {
    const text = [
      'ORIG_ID\tORIG_TEXT\tREPLY_ID\tREPLY_TEXT',
      '1128833443436089344\tuser No es feo!\t1128838717333004288\tuser Pero',
      '1128968396387885057\tuser A q hora\t1128968532329418752',
      '1128941675626283008\t  user Felicidades 👍 \t1128942083224547328\tuser Gracias!!!',
    ].join('\n');
    expectParseError(() => parseTwilbertPairs(text, { source: 'pairs.tsv' }), 'pairs.tsv', 3, /expected 4 tab-separated fields/);
    const r = parseTwilbertPairs(text, { source: 'pairs.tsv', onError: 'skip' });
    expect(r.rows).toEqual([
      { origId: '1128833443436089344', origText: 'user No es feo!', replyId: '1128838717333004288', replyText: 'user Pero' },
      { origId: '1128941675626283008', origText: 'user Felicidades 👍', replyId: '1128942083224547328', replyText: 'user Gracias!!!' },
    ]);
    // Without a header line, the first line is data.
    expect(parseTwilbertPairs(text.split('\n').slice(1, 2).join('\n')).rows).toHaveLength(1);
  });

  it('TWilBERT fine-tuning TSV: header, category map, extra text columns, multi-label', () => {
    const categories = { AGAINST: 0, NEUTRAL: 1, FAVOR: 2 };
    const text = 'ID\tTEXT\tCLASS\nab12\tAsí ha votado #27S\tNEUTRAL\ncd34\tDice que sí\tFAVOR\nef56\tOtro\tMAYBE\ngh78\tsolo dos\n';
    expectParseError(() => parseTwilbertFinetune(text, { source: 'dev.csv', categories }), 'dev.csv', 4, /class "MAYBE" is not in the category map/);
    const r = parseTwilbertFinetune(text, { source: 'dev.csv', categories, onError: 'skip' });
    expect(r.rows.map((x) => [x.id, x.texts, x.label])).toEqual([
      ['ab12', ['Así ha votado #27S'], 1],
      ['cd34', ['Dice que sí'], 2],
    ]);
    expect(r.skipped.map((i) => i.line)).toEqual([4, 5]);
    const multi = parseTwilbertFinetune('ID\tTEXT\tAUX\tCLASS\n1\ttweet\ttarget\tA|B\n2\tt2\tx\tB\n', { multiLabel: true });
    expect(multi.categories).toEqual({ A: 0, B: 1 });
    expect(multi.textHeaders).toEqual(['TEXT', 'AUX']);
    expect(multi.rows.map((x) => [x.texts, x.label])).toEqual([
      [['tweet', 'target'], [0, 1]],
      [['t2', 'x'], [1]],
    ]);
    expectParseError(() => parseTwilbertFinetune('ID\tTEXT\n1\tx\n', { source: 'f.tsv' }), 'f.tsv', 1, /bad header/);
  });
});
