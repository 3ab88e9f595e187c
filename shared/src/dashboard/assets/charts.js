// Charts drawn as SVG by our own code: no library, no inline styles (CSP).

import { s } from './dom.js?v=@VERSION@';

const W = 480;
const H = 200;
const PAD = { top: 18, right: 12, bottom: 30, left: 56 };

/** A round step for about `count` ticks between 0 and `max`. */
function niceStep(max, count) {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
  return Math.max(step * mag, 1);
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs <= 36 * 3600 * 1000) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/**
 * A chart of one or more series over [from, to].
 * `series`: [{ name, cls, points: [{ t: ms, v: number|null }] }]; a null value breaks the line.
 * `limit`: an optional horizontal line ({ v, name }), e.g. the licensed calls.
 * `ceiling`: the top of the scale if fixed (100 for percent).
 */
export function lineChart({ metric, title, unit = '', from, to, series, limit = null, ceiling = null }) {
  const values = series.flatMap((one) => one.points.map((p) => p.v)).filter((v) => v !== null && v !== undefined);
  if (limit && limit.v !== null && limit.v !== undefined) values.push(limit.v);
  const top = ceiling !== null ? ceiling : Math.max(1, ...values);
  const step = niceStep(top, 4);
  const yMax = ceiling !== null ? ceiling : Math.ceil(top / step) * step;
  const span = Math.max(1, to - from);
  const x = (t) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);

  const latest = series[0].points.filter((p) => p.v !== null && p.v !== undefined).at(-1);
  const summary = values.length
    ? `${title}: latest ${latest ? fmt(latest.v) : 'none'}${unit}, highest ${fmt(Math.max(...values))}${unit}`
    : `${title}: no data in this period`;

  const svg = s('svg', {
    class: 'chart', 'data-metric': metric, viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': summary,
  }, s('title', { text: summary }));

  axes(svg, { yMax, step, y, x, from, span, label: (v) => `${fmt(v)}${unit}` });
  if (limit && limit.v !== null && limit.v !== undefined) {
    svg.append(s('line', { class: 'limit', x1: PAD.left, x2: W - PAD.right, y1: y(limit.v), y2: y(limit.v) }));
    svg.append(s('text', { class: 'axis limit-label', x: W - PAD.right, y: y(limit.v) - 4, 'text-anchor': 'end', text: limit.name }));
  }
  for (const one of series) {
    let d = '';
    let pen = false;
    for (const p of one.points) {
      if (p.v === null || p.v === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      pen = true;
    }
    if (d) svg.append(s('path', { class: `line ${one.cls || ''}`, d }, s('title', { text: one.name })));
    // Single points between gaps would not show as a line.
    one.points.forEach((p, i) => {
      const prev = one.points[i - 1];
      const next = one.points[i + 1];
      const alone = p.v !== null && p.v !== undefined && (!prev || prev.v === null || prev.v === undefined)
        && (!next || next.v === null || next.v === undefined);
      if (alone) svg.append(s('circle', { class: `dot ${one.cls || ''}`, cx: x(p.t), cy: y(p.v), r: 3.5 }));
    });
  }
  if (!values.length) {
    svg.append(s('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle', text: 'No data in this period' }));
  }
  return svg;
}

/** Grid lines and value labels up the side, three time labels along the bottom. */
function axes(svg, { yMax, step, y, x, from, span, label }) {
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    svg.append(s('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    svg.append(s('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', text: label(v) }));
  }
  const ticks = 3;
  for (let i = 0; i <= ticks; i += 1) {
    const t = from + (span * i) / ticks;
    const anchor = i === 0 ? 'start' : i === ticks ? 'end' : 'middle';
    svg.append(s('text', { class: 'axis', x: x(t), y: H - 8, 'text-anchor': anchor, text: timeLabel(t, span) }));
  }
}

/**
 * Backups over [from, to] as bars: a succeeded one as tall as its size, a failed one as a
 * marker on the baseline. `backups`: [{ t: ms, size: bytes|null, ok: bool }].
 * `sizeLabel` formats a size (e.g. `2.1 GB`).
 */
export function backupChart({ from, to, backups, sizeLabel }) {
  const sizes = backups.filter((b) => b.ok && b.size).map((b) => b.size);
  const failed = backups.filter((b) => !b.ok).length;
  // The scale counts whole MB or GB, so that its steps are round.
  const [unit, unitName] = Math.max(0, ...sizes) >= 2 ** 30 ? [2 ** 30, 'GB'] : [2 ** 20, 'MB'];
  const top = Math.max(1, ...sizes.map((v) => v / unit));
  const step = niceStep(top, 4);
  const yMax = Math.ceil(top / step) * step;
  const span = Math.max(1, to - from);
  const x = (t) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const summary = backups.length
    ? `Backups: ${backups.length - failed} succeeded, ${failed} failed${sizes.length ? `, largest ${sizeLabel(Math.max(...sizes))}` : ''}`
    : 'Backups: none in this period';
  const svg = s('svg', { class: 'chart', 'data-metric': 'backups', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary },
    s('title', { text: summary }));
  axes(svg, { yMax, step, y, x, from, span, label: (v) => `${fmt(v)} ${unitName}` });
  const width = Math.max(2, Math.min(10, (W - PAD.left - PAD.right) / Math.max(1, backups.length) - 1));
  for (const b of backups) {
    const when = new Date(b.t).toLocaleString();
    if (b.ok) {
      const top = y((b.size || 0) / unit);
      svg.append(s('rect', { class: 'bar ok', x: x(b.t) - width / 2, y: top, width, height: Math.max(1, H - PAD.bottom - top) },
        s('title', { text: `${when}: succeeded, ${sizeLabel(b.size || 0)}` })));
    } else {
      svg.append(s('rect', { class: 'bar failed', x: x(b.t) - width / 2, y: H - PAD.bottom - 12, width, height: 12 },
        s('title', { text: `${when}: failed` })));
    }
  }
  if (!backups.length) {
    svg.append(s('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle', text: 'No backups in this period' }));
  }
  return svg;
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
