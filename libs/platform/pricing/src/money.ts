/**
 * Money without floating point. Amounts are integers in the currency's minor unit (cents for
 * "usd"); unit prices are decimal strings in minor units ("0.125" = an eighth of a cent) and are
 * computed exactly as scaled BigInts. An amount is rounded ONCE, at the line item, half to even
 * (banker's rounding): ties go to the even neighbour, so rounding errors do not drift one way.
 */

/** Digits kept after the decimal point of a unit price (exact below that). */
export const PRICE_SCALE = 12;
const SCALE = 10n ** BigInt(PRICE_SCALE);
const PRICE = /^(0|[1-9]\d{0,11})(\.\d{1,12})?$/;

/** Whether `s` is a unit price: a non-negative decimal string with at most 12 decimals, no exponent, no sign. */
export function isUnitPrice(s: unknown): s is string {
  return typeof s === 'string' && PRICE.test(s);
}

/** A unit price as an integer count of 10^-12 minor units (exact). Throws on a malformed price. */
export function scaledPrice(price: string): bigint {
  if (!isUnitPrice(price)) throw new Error(`not a unit price: ${JSON.stringify(price)}`);
  const [whole, frac = ''] = price.split('.') as [string, string?];
  return BigInt(whole) * SCALE + BigInt(frac.padEnd(PRICE_SCALE, '0'));
}

/** The canonical string of a scaled price (no trailing zeros): scaled 125_000_000_000n → "0.125". */
export function formatPrice(scaled: bigint): string {
  if (scaled < 0n) throw new Error('negative price');
  const whole = scaled / SCALE;
  const frac = (scaled % SCALE).toString().padStart(PRICE_SCALE, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** numerator / denominator rounded half to even (denominator > 0). */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new Error('denominator must be positive');
  const negative = numerator < 0n;
  const n = negative ? -numerator : numerator;
  let q = n / denominator;
  const r2 = (n % denominator) * 2n;
  if (r2 > denominator || (r2 === denominator && q % 2n === 1n)) q += 1n;
  return negative ? -q : q;
}

function toUnits(units: number | bigint): bigint {
  if (typeof units === 'number' && !Number.isSafeInteger(units)) throw new Error(`units must be an integer: ${units}`);
  const u = BigInt(units);
  if (u < 0n) throw new Error('units must not be negative');
  return u;
}

/** The exact amount of `units` at `unitPrice`, in 10^-12 minor units (sum these, then round once with `roundAmount`). */
export function exactAmount(units: number | bigint, unitPrice: string): bigint {
  return toUnits(units) * scaledPrice(unitPrice);
}

/** An exact (scaled) amount rounded half to even to whole minor units. */
export function roundAmount(exact: bigint): number {
  const r = divideHalfEven(exact, SCALE);
  if (r > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('amount too large');
  return Number(r);
}

/** A line item's amount: `units × unitPrice`, rounded once, half to even, to integer minor units. */
export function lineAmount(units: number | bigint, unitPrice: string): number {
  return roundAmount(exactAmount(units, unitPrice));
}

/** Converts the former micro-USD integer price to a decimal string in cents (1 cent = 10,000 micro-USD). */
export function microsToUnitPrice(micros: number): string {
  if (!Number.isSafeInteger(micros) || micros < 0) throw new Error(`invalid micro price ${micros}`);
  return formatPrice((BigInt(micros) * SCALE) / 10_000n);
}
