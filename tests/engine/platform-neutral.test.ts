// The engine core must run in a browser (navigator.gpu): only the small Node adapter files
// (*-node.ts, engine/backend/webgpu/node.ts, data/readers/node.ts) may touch Node or Dawn.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['engine', 'kernels', 'models', 'tokenizers', 'data', 'train'];
const NODE_ONLY = /from ['"](node:|fs|path|os|child_process|webgpu)['"]|require\(|process\.(env|argv|exit)/;

/** Source without comment lines (comments may mention process.argv). */
function codeOnly(src: string): string {
  return src
    .split('\n')
    .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
    .join('\n');
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('platform-neutral core', () => {
  it('only Node adapter files import Node modules or Dawn', () => {
    const offenders = ROOTS.flatMap(files)
      .filter((f) => !/(-node|\/node)\.ts$/.test(f))
      .filter((f) => NODE_ONLY.test(codeOnly(readFileSync(f, 'utf8'))));
    expect(offenders).toEqual([]);
  });
});
