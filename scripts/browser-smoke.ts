// npx tsx scripts/browser-smoke.ts [--chromium PATH] [--timeout-s N]
//
// Runs the engine core in a real browser: bundles scripts/browser/smoke-entry.ts for the browser
// (esbuild, platform 'browser': a Node import anywhere in the core fails the bundle), serves it
// from a local HTTP server and opens it in headless Chromium with WebGPU enabled
// (--enable-unsafe-webgpu; on a machine without a GPU Chromium's WebGPU runs on SwiftShader). The
// page checks kernels, gradients, a small BERT's training step and the tokenizer against the float64
// reference backend on navigator.gpu and posts the results back; exit code 1 when a check fails.
// Debian: apt-get install chromium (scripts/test-core-adapter.sh installs it too).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { SmokeResult } from './browser/smoke-entry.js';

const argv = process.argv.slice(2);
const flag = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
const chromium = flag('--chromium') ?? process.env['CHROMIUM'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
if (!chromium) {
  console.error('browser-smoke: no Chromium found (apt-get install chromium, or --chromium PATH / env CHROMIUM)');
  process.exit(2);
}
const timeoutS = Number(flag('--timeout-s') ?? 600);

const bundle = await build({
  entryPoints: [new URL('./browser/smoke-entry.ts', import.meta.url).pathname],
  bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'error',
});
const js = bundle.outputFiles[0]!.contents;
console.log(`browser-smoke: bundled the engine core for the browser (${(js.length / 1024).toFixed(0)} KiB)`);

const html = '<!doctype html><meta charset="utf-8"><title>webgpu-bert smoke</title><script type="module" src="/smoke.js"></script>';
let settle: (r: SmokeResult) => void = () => {};
const result = new Promise<SmokeResult>((resolve) => { settle = resolve; });
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/result') {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { res.end('ok'); settle(JSON.parse(body) as SmokeResult); });
    return;
  }
  if (req.url === '/smoke.js') { res.setHeader('content-type', 'text/javascript'); res.end(js); return; }
  if (req.url === '/') { res.setHeader('content-type', 'text/html'); res.end(html); return; }
  res.statusCode = 404;
  res.end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const profile = mkdtempSync(join(tmpdir(), 'webgpu-bert-chromium-'));
const args = [
  '--headless=new', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
  '--no-first-run', '--no-default-browser-check', `--user-data-dir=${profile}`,
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), // Chromium refuses to run as root with its sandbox
  url,
];
const t0 = performance.now();
const browser = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
browser.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
const exited = new Promise<SmokeResult>((_, reject) => browser.on('exit', (code) => reject(new Error(`Chromium exited (code ${code}) before the page reported:\n${stderr}`))));
const timer = new Promise<SmokeResult>((_, reject) => setTimeout(() => reject(new Error(`no result after ${timeoutS} s:\n${stderr}`)), timeoutS * 1000).unref());

let failed = true;
try {
  const r = await Promise.race([result, exited, timer]);
  console.log(`browser-smoke: ${chromium}, adapter ${r.adapter}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const c of r.checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: worst relative error ${c.worst.toExponential(2)} (bound ${c.bound})`);
  if (r.error) console.log(`  error in the page: ${r.error}`);
  failed = !!r.error || r.checks.length === 0 || r.checks.some((c) => !c.ok);
} catch (e) {
  console.error(`browser-smoke: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  browser.kill('SIGKILL');
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failed ? 'browser-smoke: FAILED' : 'browser-smoke: all checks passed');
process.exit(failed ? 1 : 0);
