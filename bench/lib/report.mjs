// Printing figures: one heading per figure, one line per server, then the target verdict.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const count = (n) => integer.format(n);
export const ms = (n) => `${n.toFixed(n < 10 ? 2 : 1)} ms`;
export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
export const percent = (fraction) => `${(fraction * 100).toFixed(0)}%`;

export function heading(title, detail) {
  process.stdout.write(`\n${title}\n  ${detail}\n`);
}

export function line(label, text) {
  process.stdout.write(`  ${label.padEnd(9)} ${text}\n`);
}

/** Prints whether a target was met; returns the verdict for the summary. */
export function target(description, met) {
  process.stdout.write(`  target    ${description}: ${met ? 'MET' : 'MISSED'}\n`);
  return { description, met };
}

/** The closing list of targets, so a long run ends with what matters. */
export function summary(title, verdicts) {
  if (verdicts.length === 0) return;
  process.stdout.write(`\n${title}\n`);
  for (const { description, met } of verdicts) process.stdout.write(`  ${met ? 'MET   ' : 'MISSED'}  ${description}\n`);
}
