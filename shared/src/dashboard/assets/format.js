// How values read on screen.

export const STATUSES = ['ok', 'degraded', 'unreachable', 'login_failing', 'unsupported', 'never_polled'];

const STATUS_LABELS = {
  ok: 'OK',
  degraded: 'Degraded',
  unreachable: 'Unreachable',
  login_failing: 'Login failing',
  unsupported: 'Unsupported',
  never_polled: 'Never polled',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

/** `trunk_down` → `Trunk down`. */
export function words(code) {
  const text = String(code || '').replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function dateTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** `3 h 12 min`, `2 d 4 h`, `45 s`. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  const d = Math.floor(hours / 24);
  if (d >= 14) return `${d} d`;
  return hours % 24 ? `${d} d ${hours % 24} h` : `${d} d`;
}

/** `5 min ago`, `in 3 d`. */
export function relative(iso, now = Date.now()) {
  if (!iso) return 'never';
  const delta = (new Date(iso).getTime() - now) / 1000;
  if (Math.abs(delta) < 30) return 'just now';
  return delta < 0 ? `${duration(-delta)} ago` : `in ${duration(delta)}`;
}

/** `a / b`, with a dash for what is unknown. */
export function ratio(a, b) {
  const show = (v) => (v === null || v === undefined ? '—' : String(v));
  if (b === null || b === undefined) return show(a);
  return `${show(a)} / ${show(b)}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
