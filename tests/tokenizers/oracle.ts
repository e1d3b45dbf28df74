// Role: test/bench helper that builds the independent oracle: Hugging Face `tokenizers` (the Rust
// implementation, through the `@anush008/tokenizers` N-API build, a devDependency) configured as
// bert-base-(un)cased's tokenizer.json is: BertNormalizer + BertPreTokenizer + WordPiece +
// BertProcessing, with the special tokens registered so they are kept whole.

import * as hf from '@anush008/tokenizers';

export interface OracleOptions {
  lowercase: boolean;
  specialTokens?: { pad: string; unk: string; cls: string; sep: string; mask: string };
}

export async function makeOracle(vocabPath: string, vocab: { id(t: string): number | undefined }, o: OracleOptions): Promise<hf.Tokenizer> {
  const s = o.specialTokens ?? { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' };
  const model = await hf.WordPiece.fromFile(vocabPath, { unkToken: s.unk, continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const tok = new hf.Tokenizer(model);
  tok.setNormalizer(hf.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: o.lowercase, lowercase: o.lowercase }));
  tok.setPreTokenizer(hf.bertPreTokenizer());
  tok.setPostProcessor(hf.bertProcessing([s.sep, vocab.id(s.sep)!], [s.cls, vocab.id(s.cls)!]));
  tok.setDecoder(hf.wordPieceDecoder('##', true));
  tok.addSpecialTokens([s.pad, s.unk, s.cls, s.sep, s.mask]);
  return tok;
}

/** HF reports offsets in code points; convert to UTF-16 units so they compare with ours. */
export function codePointToUtf16Offsets(text: string, offsets: number[][]): [number, number][] {
  const map: number[] = [];
  let u = 0;
  for (const ch of text) {
    map.push(u);
    u += ch.length;
  }
  map.push(u);
  return offsets.map(([s, e]) => [map[s!] ?? s!, map[e!] ?? e!]);
}
