// Renders bench results (the object bench/run.mjs writes as JSON) as one SVG:
// code size; the synthetic workloads' speed and memory relative to dlmalloc;
// the real programs' heap and time relative to dlmalloc.
const COLORS = { zee_alloc: '#2b7bb9', dlmalloc: '#9a9a9a', emmalloc: '#e08a2c' };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// One horizontal bar chart: rows of grouped bars, a labelled axis, a 1x line.
function panel(title, rows, series, { x, y, width, max, unit, refLine }) {
  const labelW = 130,
    barH = 9,
    gap = 8,
    chartW = width - labelW - 60;
  const out = [`<text x="${x}" y="${y}" class="t">${esc(title)}</text>`];
  let cy = y + 14;
  const scale = (v) => (Math.min(v, max) / max) * chartW;
  for (const row of rows) {
    out.push(
      `<text x="${x + labelW - 6}" y="${cy + (series.length * barH) / 2 + 3}" class="l" text-anchor="end">${esc(row.label)}</text>`,
    );
    series.forEach((s, i) => {
      const v = row.values[s];
      const w = Math.max(1, scale(v));
      out.push(
        `<rect x="${x + labelW}" y="${cy + i * barH}" width="${w.toFixed(1)}" height="${barH - 1}" fill="${COLORS[s]}"/>`,
      );
      out.push(
        `<text x="${x + labelW + w + 3}" y="${cy + i * barH + barH - 2}" class="v">${esc(unit(v))}${v > max ? ' ▸' : ''}</text>`,
      );
    });
    cy += series.length * barH + gap;
  }
  if (refLine !== undefined) {
    const rx = x + labelW + scale(refLine);
    out.push(`<line x1="${rx}" y1="${y + 8}" x2="${rx}" y2="${cy - gap + 2}" stroke="#444" stroke-dasharray="3,2"/>`);
  }
  return { svg: out.join('\n'), bottom: cy };
}

// A ratio axis: at least 0..2, widened to the largest value (rounded up).
const ratioMax = (rows) => Math.max(2, Math.ceil(Math.max(...rows.flatMap((r) => Object.values(r.values)))));

export function renderSvg(res) {
  const W = 760,
    parts = [];
  const names = Object.keys(res.speed);
  const z = 'zee_alloc default';
  const sizeRows = Object.keys(res.size).map((set) => ({
    label: set,
    values: {
      zee_alloc: res.size[set][z].bytes,
      emmalloc: res.size[set].emmalloc.bytes,
      dlmalloc: res.size[set].dlmalloc.bytes,
    },
  }));
  const maxSize = Math.max(...sizeRows.flatMap((r) => Object.values(r.values)));
  let p = panel(
    'Code size added to a module (bytes, -Oz + wasm-opt -Oz; smaller is better)',
    sizeRows,
    ['zee_alloc', 'emmalloc', 'dlmalloc'],
    { x: 10, y: 48, width: W, max: maxSize, unit: (v) => `${v.toLocaleString('en-US')} B` },
  );
  parts.push(p.svg);
  const series = ['zee_alloc', 'emmalloc'];
  const rel = (n, key) => Object.fromEntries(series.map((a) => [a, res.speed[n][a][key]]));
  const speedRows = names.map((n) => ({ label: n, values: rel(n, 'speed_vs_dlmalloc') }));
  speedRows.push({ label: 'geometric mean', values: res.summary.speed_geomean });
  p = panel('Speed: ops/s relative to dlmalloc (dashed line = dlmalloc; larger is better)', speedRows, series, {
    x: 10,
    y: p.bottom + 24,
    width: W,
    max: ratioMax(speedRows),
    unit: (v) => `${v.toFixed(2)}×`,
    refLine: 1,
  });
  parts.push(p.svg);
  const memRows = names.map((n) => ({ label: n, values: rel(n, 'memory_vs_dlmalloc') }));
  p = panel(
    'Peak memory relative to dlmalloc (final wasm memory size; dashed line = dlmalloc; smaller is better)',
    memRows,
    series,
    { x: 10, y: p.bottom + 24, width: W, max: ratioMax(memRows), unit: (v) => `${v.toFixed(2)}×`, refLine: 1 },
  );
  parts.push(p.svg);
  const progs = Object.keys(res.programs || {});
  if (progs.length) {
    const prel = (n, key) => Object.fromEntries(series.map((a) => [a, res.programs[n][a][key]]));
    const sources = progs.map((n) => res.programs[n].source.split(',')[0]).join(', ');
    const heapRows = progs.map((n) => ({ label: n, values: prel(n, 'heap_vs_dlmalloc') }));
    p = panel(`Real programs (${sources}): peak heap relative to dlmalloc (smaller is better)`, heapRows, series, {
      x: 10,
      y: p.bottom + 24,
      width: W,
      max: ratioMax(heapRows),
      unit: (v) => `${v.toFixed(2)}×`,
      refLine: 1,
    });
    parts.push(p.svg);
    const timeRows = progs.map((n) => ({ label: n, values: prel(n, 'time_vs_dlmalloc') }));
    p = panel(
      'Real programs: run time relative to dlmalloc (dashed line = dlmalloc; smaller is better)',
      timeRows,
      series,
      { x: 10, y: p.bottom + 24, width: W, max: ratioMax(timeRows), unit: (v) => `${v.toFixed(2)}×`, refLine: 1 },
    );
    parts.push(p.svg);
  }
  const H = p.bottom + 30;
  const legend = Object.entries(COLORS)
    .map(
      ([k, c], i) =>
        `<rect x="${10 + i * 140}" y="18" width="10" height="10" fill="${c}"/><text x="${24 + i * 140}" y="27" class="l">${k}</text>`,
    )
    .join('\n');
  const m = res.machine;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<style>.t{font-size:12px;font-weight:bold}.l{font-size:11px}.v{font-size:9px;fill:#333}.f{font-size:9px;fill:#666}</style>
<rect width="100%" height="100%" fill="#fff"/>
${legend}
${parts.join('\n')}
<text x="10" y="${H - 10}" class="f">${esc(`${res.command} (${res.mode}, median of ${res.runs} interleaved runs) · emcc ${(m.emcc.match(/\d+\.\d+\.\d+/) || ['?'])[0]} · node ${m.node} · ${m.cpu} · ${res.generated.slice(0, 10)}`)}</text>
</svg>
`;
}
