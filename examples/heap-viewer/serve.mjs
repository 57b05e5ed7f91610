#!/usr/bin/env node
// A tiny static server for the heap viewer, bound to localhost only.
//   node examples/heap-viewer/serve.mjs [port]     (default 8080; 0 = any free port)
// Serves the page from this folder, and the package's js/ and dist/ under
// /js/ and /dist/, with .wasm as application/wasm (so the browser can
// compile it while it downloads).  GET and HEAD only; nothing outside those
// three folders is reachable.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..', '..');

export const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.d.ts': 'text/plain; charset=utf-8',
};

// URL prefix -> folder it maps to (the page's own folder at the root).
function mounts(root) {
  return [
    ['/js/', join(root, 'js')],
    ['/dist/', join(root, 'dist')],
    ['/', here],
  ];
}

// Maps a URL path to a file inside one of the mounts, or null (404).
function resolvePath(urlPath, root) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path === '/') path = '/index.html';
  for (const [prefix, dir] of mounts(root)) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(dir, path.slice(prefix.length)));
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

/**
 * Starts the server; resolves to `{ server, url, close() }`.
 * Options: `port` (0 = any free one), `host` (default 127.0.0.1), `root`
 * (the package folder holding js/ and dist/; default: this checkout), `log`.
 */
export function startServer({ port = 8080, host = '127.0.0.1', root = pkg, log = false } = {}) {
  const server = createServer(async (req, res) => {
    const send = (code, text) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const urlPath = new URL(req.url, 'http://localhost').pathname;
    const file = resolvePath(urlPath, root);
    let info = null;
    if (file) info = await stat(file).catch(() => null);
    if (!info || !info.isFile()) {
      if (log) console.log(`404 ${urlPath}`);
      return send(
        404,
        `not found: ${urlPath}${urlPath.startsWith('/dist/') ? ' (build it with `npm run build`)' : ''}`,
      );
    }
    const type = file.endsWith('.d.ts') ? TYPES['.d.ts'] : (TYPES[extname(file)] ?? 'application/octet-stream');
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': info.size,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    if (log) console.log(`200 ${urlPath} (${type})`);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actual}/`;
      resolve({ server, url, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2] ?? process.env.PORT ?? '8080';
  const port = Number(arg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: bad port "${arg}" (use 0..65535)`);
    process.exit(2);
  }
  const { url } = await startServer({ port, log: true });
  console.log(`heap viewer: ${url}  (Ctrl-C to stop)`);
}
