/**
 * A bench's verdict line, one per figure, in the form the README shows:
 * `<figure>: <value> (target <cmp> <value>): met|missed`. `was` names the figure this
 * one replaces (from an earlier run on the reference machine), beside it in brackets.
 */
export function targetLine(figure: string, value: number, cmp: '<=' | '>=', target: number, unit: string, options: { digits?: number; was?: number } = {}): string {
  const digits = options.digits ?? 0;
  const show = (n: number) => `${n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}${unit ? ` ${unit}` : ''}`;
  const met = cmp === '<=' ? value <= target : value >= target;
  const was = options.was === undefined ? '' : ` [was ${show(options.was)}]`;
  return `${figure}${was}: ${show(value)} (target ${cmp} ${show(target)}): ${met ? 'met' : 'missed'}`;
}
