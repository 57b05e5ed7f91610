#!/usr/bin/env node
// Produces the README's screenshot of the heap viewer (needs `npm run build`
// and chromium):   node examples/heap-viewer/screenshot.mjs [out.png]
// (default docs/heap-viewer.png).  It serves the viewer on a free localhost
// port, allocates a few blocks of known sizes, runs the random workload with
// seed 3, selects a block in the live-block list (which opens its page
// block by block under the heap map), and saves the page.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch } from './browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? resolve(here, '../../docs/heap-viewer.png'));

const srv = await startServer({ port: 0 });
const b = await launch();
try {
  const { page } = b;
  await page.goto(`${srv.url}?seed=3`);
  await page.waitForSelector('body[data-ready="1"]');
  for (const n of [100, 3000, 70000, 24]) {
    await page.fill('#size', String(n));
    await page.click('#alloc');
  }
  await page.fill('#ops', '150');
  await page.click('#random');
  await page.click('#blocks div:nth-child(3)');
  await page.waitForSelector('#zoom svg');
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: false });
  console.log(`wrote ${out}`);
} finally {
  await b.close();
  await srv.close();
}
