import { describe, expect, it } from '@jest/globals';
import { checkUnitsRule, computeUnits, estimateUnits, valuesAt, type FeaturePrice } from './index.js';

const lines = { lines: [{ text: 'Hello', confidence: 1 }, { text: 'wörld 😀', confidence: 1 }, { text: '', confidence: 0 }] };
const price = (units: FeaturePrice['units']): FeaturePrice => ({ unitType: 'x', units });
const call = (output: unknown, computeMs = 10) => ({ output, computeMs });

describe('computeUnits (units from the actual call)', () => {
  it('a fixed number per call (per image)', () => {
    expect(computeUnits(price(1), call(lines))).toBe(1);
    expect(computeUnits(price(3), call({}))).toBe(3);
  });

  it('per item of an output list (per detected line), with a minimum', () => {
    expect(computeUnits(price({ count: '/lines' }), call(lines))).toBe(3);
    expect(computeUnits(price({ count: '/lines' }), call({ lines: [] }))).toBe(0);
    expect(computeUnits(price({ count: '/lines', min: 1 }), call({ lines: [] }))).toBe(1);
    expect(computeUnits(price({ count: '/pages/*/lines' }), call({ pages: [lines, lines] }))).toBe(6);
  });

  it('per started 1,000 characters (code points, not UTF-16 units)', () => {
    expect(computeUnits(price({ characters: '/lines/*/text', per: 1000 }), call(lines))).toBe(1);
    expect(computeUnits(price({ characters: '/lines/*/text' }), call(lines))).toBe(5 + 7);
    expect(computeUnits(price({ characters: '/text', per: 1000 }), call({ text: 'a'.repeat(1000) }))).toBe(1);
    expect(computeUnits(price({ characters: '/text', per: 1000 }), call({ text: 'a'.repeat(1001) }))).toBe(2);
    expect(computeUnits(price({ characters: '/text', per: 1000 }), call({ text: '' }))).toBe(0);
  });

  it('per started second of compute', () => {
    expect(computeUnits(price({ seconds: 'compute' }), call({}, 1))).toBe(1);
    expect(computeUnits(price({ seconds: 'compute' }), call({}, 1000))).toBe(1);
    expect(computeUnits(price({ seconds: 'compute' }), call({}, 2500))).toBe(3);
    expect(computeUnits(price({ seconds: 'compute', min: 2 }), call({}, 10))).toBe(2);
  });

  it('estimates what to reserve before the call', () => {
    expect(estimateUnits(price(4))).toBe(4);
    expect(estimateUnits(price({ count: '/lines' }))).toBe(1);
    expect(estimateUnits(price({ count: '/lines', min: 5 }))).toBe(5);
  });

  it('walks pointers (escapes, indexes, missing members)', () => {
    expect(valuesAt({ 'a/b': { '~': 1 } }, '/a~1b/~0')).toEqual([1]);
    expect(valuesAt({ a: [10, 20] }, '/a/1')).toEqual([20]);
    expect(valuesAt({ a: 1 }, '/b/c')).toEqual([]);
  });
});

describe('checkUnitsRule', () => {
  const output = { type: 'object', properties: { lines: { type: 'array', items: { type: 'object', properties: { text: { type: 'string' } } } }, n: { type: 'number' } } };
  it('accepts rules that fit the output schema', () => {
    expect(checkUnitsRule(1, output)).toEqual([]);
    expect(checkUnitsRule({ count: '/lines' }, output)).toEqual([]);
    expect(checkUnitsRule({ characters: '/lines/*/text', per: 1000 }, output)).toEqual([]);
    expect(checkUnitsRule({ seconds: 'compute', min: 1 }, output)).toEqual([]);
  });
  it('refuses the others', () => {
    expect(checkUnitsRule(-1, output)).toEqual(['units must be a whole number >= 0']);
    expect(checkUnitsRule(0.5, output)).toEqual(['units must be a whole number >= 0']);
    expect(checkUnitsRule({ count: '/n' }, output)).toEqual(['units.count: "/n" is not a list in the output schema']);
    expect(checkUnitsRule({ count: 'lines' }, output)).toEqual(['units.count: "lines" is not a JSON Pointer (it starts with /)']);
    expect(checkUnitsRule({ characters: '/lines/*/text', per: 0 }, output)).toEqual(['units.per must be a whole number >= 1']);
    expect(checkUnitsRule({ count: '/lines', characters: '/x' }, output)).toEqual(['units must say exactly one of count, characters, seconds']);
    expect(checkUnitsRule({ seconds: 'wall' } as never, output)).toEqual(['units.seconds must be "compute"']);
    expect(checkUnitsRule({ count: '/lines', per: 3 }, output)).toEqual(['units.per goes with characters only']);
  });
});
