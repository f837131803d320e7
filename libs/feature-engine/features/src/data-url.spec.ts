import { describe, expect, it } from '@jest/globals';
import { isProblemError } from '#infra/errors';
import { decodeBase64Image, MAX_DATA_URL_HEADER, parseDataUrlHeader } from './ops.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isProblemError(e) ? e.code : `not a problem: ${String(e)}`;
  }
  return undefined;
}

describe('data: URL header (item 10: bounded, linear parsing)', () => {
  it('reads the media type and where the payload starts', () => {
    expect(parseDataUrlHeader('data:image/PNG;charset=x;base64,AAAA')).toEqual({ media: 'image/png', payloadAt: 32 });
    expect(parseDataUrlHeader('data:;base64,AAAA')).toEqual({ media: undefined, payloadAt: 13 });
    expect(decodeBase64Image('DATA:image/png;base64,AAAA')).toEqual(Buffer.from([0, 0, 0]));
  });

  it('refuses a header with millions of parameters as invalid_input (the header is read only up to MAX_DATA_URL_HEADER characters)', () => {
    const bomb = 'data:image/png' + ';a=b'.repeat(2_000_000) + ';base64,AAAA';
    expect(codeOf(() => decodeBase64Image(bomb))).toBe('invalid_input');
  });

  it('refuses malformed and non-base64 headers', () => {
    expect(codeOf(() => decodeBase64Image('data:image/png,AAAA'))).toBe('invalid_input');
    expect(codeOf(() => decodeBase64Image('data:image/png;a=b=c;base64,AAAA'))).toBe('invalid_input');
    expect(codeOf(() => decodeBase64Image('data:image/gif;base64,AAAA'))).toBe('invalid_input');
    expect(codeOf(() => decodeBase64Image(`data:image/png;${'a'.repeat(MAX_DATA_URL_HEADER)}=b;base64,AAAA`))).toBe('invalid_input');
    expect(codeOf(() => decodeBase64Image('data:image/png;base64'))).toBe('invalid_input');
  });
});
