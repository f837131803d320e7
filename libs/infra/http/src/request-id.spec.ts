import { requestIdFor } from './request-id.js';

describe('requestIdFor', () => {
  it('keeps a well-formed inbound id and refuses a malformed one', () => {
    expect(requestIdFor('trace-1234.abcd')).toBe('trace-1234.abcd');
    expect(requestIdFor('short')).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(requestIdFor('bad id with spaces')).toMatch(/^req_/);
    expect(requestIdFor(['trace-1234.abcd', 'x'])).toMatch(/^req_/);
  });

  it('makes distinct 96-bit ids, also across refills of its random pool', () => {
    const ids = Array.from({ length: 2_000 }, () => requestIdFor(undefined));
    for (const id of ids) expect(id).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
