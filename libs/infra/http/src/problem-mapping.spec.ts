import { describe, expect, it } from '@jest/globals';
import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { ProblemError } from '#infra/errors';
import { toProblem } from './problem-mapping.js';

const fastifyError = (code: string, statusCode: number) => Object.assign(new Error('fastify says no'), { code, statusCode });

describe('toProblem', () => {
  it('keeps ProblemErrors as they are', () => {
    const p = new ProblemError('feature_not_found', 'nope');
    expect(toProblem(p)).toBe(p);
  });
  it('maps Fastify body errors, bare or wrapped by Nest', () => {
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400)).code).toBe('malformed_json');
    const wrapped = new HttpException('x', 400, { cause: fastifyError('FST_ERR_CTP_INVALID_JSON', 400) });
    expect(toProblem(wrapped).code).toBe('malformed_json');
    expect(toProblem(new HttpException('x', 413, { cause: fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413) })).status).toBe(413);
    expect(toProblem(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code).toBe('unsupported_media_type');
  });
  it('maps Nest HTTP exceptions by status', () => {
    expect(toProblem(new NotFoundException()).code).toBe('route_not_found');
    expect(toProblem(new BadRequestException('bad')).code).toBe('bad_request');
  });
  it('answers 503 with Retry-After when the database or a socket is unreachable', () => {
    for (const code of ['P1001', 'P2024', 'ECONNREFUSED']) {
      const p = toProblem(Object.assign(new Error('cannot reach 10.0.0.5:5432'), { code }));
      expect(p.code).toBe('service_unavailable');
      expect(p.headers['retry-after']).toBe('5');
      expect(p.detail).not.toContain('10.0.0.5');
    }
    // A raw query ($queryRaw) reports the same outage as P2010 with the driver adapter's kind.
    const raw = Object.assign(new Error('raw query failed'), { code: 'P2010', meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable', host: '10.0.0.5' } } } });
    expect(toProblem(raw).code).toBe('service_unavailable');
    const syntax = Object.assign(new Error('raw query failed'), { code: 'P2010', meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'postgres', code: '42601' } } } });
    expect(toProblem(syntax).status).toBe(500);
  });

  it('turns anything else into a 500 that leaks nothing', () => {
    const p = toProblem(new Error('password=hunter2 at db.internal'));
    expect(p.status).toBe(500);
    expect(p.code).toBe('internal_error');
    expect(JSON.stringify(p.toBody('req_1'))).not.toContain('hunter2');
  });
  it('puts extensions after the standard members without letting them override', () => {
    const body = new ProblemError('validation_failed', 'd', { extensions: { errors: [], status: 999 } }).toBody('req_1');
    expect(body.status).toBe(422);
    expect(Object.keys(body).slice(0, 5)).toEqual(['type', 'title', 'status', 'detail', 'code']);
    expect(body['errors']).toEqual([]);
  });
});
