/** One value of a query parameter; a repeated parameter becomes a value no parser accepts, so it is refused rather than half-read. */
export function single(value: unknown, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return `<${name} given more than once>`;
}
