const DAY_MS = 86_400_000;
let cachedDay = Number.NaN;
let cachedDatePrefix = '';

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()` for a fraction of its cost, which is paid on every send and every delivery:
 * the date part is formatted once per UTC day, the time of day with arithmetic.
 */
export function isoTimestamp(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    const iso = new Date(day * DAY_MS).toISOString();
    cachedDatePrefix = iso.slice(0, iso.indexOf('T') + 1);
    cachedDay = day;
  }
  let rest = ms - day * DAY_MS;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  return `${cachedDatePrefix}${pad2((rest - minutes) / 60)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(millis)}Z`;
}
