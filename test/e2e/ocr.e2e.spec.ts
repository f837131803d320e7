// The `ocr` feature end to end: gateway and worker as real processes, the three shipped
// PaddleOCR models (detection, orientation, recognition), pages rendered here with ImageMagick
// with known text, and the bad inputs a page reader meets.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { OCR_MAX_REGIONS } from '#feature-engine/feature-catalogue';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { seedDemo } from '../../scripts/seed.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';
import { characterAccuracy, renderGrid, renderPage } from '../support/render-text.js';

const PEPPER = 'e2e-ocr-pepper-' + 'x'.repeat(32);

let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let key: string;
let prefix: string;

async function predict(input: unknown, wait = 60) {
  const res = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', prefer: `wait=${wait}` },
    body: JSON.stringify({ feature: 'ocr', input }),
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', json: (await res.json()) as any };
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** CRC-32 of PNG chunks. */
function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A decompression bomb: a few hundred bytes declaring a 60000 x 60000 greyscale PNG (3.6 gigapixels). */
function pngBomb(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(60_000, 0);
  ihdr.writeUInt32BE(60_000, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  // The first rows only (filter byte + zeros): enough for a decoder to start allocating.
  const idat = deflateSync(Buffer.alloc(60_001 * 4));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_ocr');
  const seeded = await seedDemo({ prisma: db.prisma, pepper: PEPPER, credentialsFile: join(tmpdir(), `stratum-e2e-ocr-${randomBytes(4).toString('hex')}.json`) });
  key = seeded.liveKey.secret!;
  prefix = `e2e_ocr_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, worker] = await Promise.all([startApp('gateway', env), startApp('worker', env, { timeoutMs: 90_000 })]);
}, 150_000);

afterAll(async () => {
  const codes = await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  await dropRedisPrefix(prefix);
  expect(codes).toEqual([0, 0]);
});

describe('ocr through POST /v1/predictions', () => {
  it('reads a rendered page line by line, in reading order, with boxes, and times each step', async () => {
    const truth = ['Invoice 2024-117', 'Total due: 1,234.56 EUR', 'Thank you for your order'];
    const png = await renderPage({ lines: truth, font: 'DejaVu-Sans', pointSize: 28 });
    const meta = await sharp(png).metadata();
    const r = await predict({ image: b64(png) });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ feature: 'ocr', version: '1', status: 'succeeded', units: 1, error: null });
    expect(r.json.models).toEqual([
      { name: 'ppocr-det', version: '1', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { name: 'ppocr-cls', version: '1', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { name: 'ppocr-rec', version: '1', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    const lines = r.json.output.lines as { text: string; confidence: number; box: [number, number][]; angle: number }[];
    // Every character right; the recogniser sometimes drops a space (see the README's accuracy figure).
    const squash = (t: string) => t.replace(/\s+/g, '');
    expect(lines.map((l) => squash(l.text))).toEqual(truth.map(squash));
    expect(characterAccuracy(r.json.output.text, truth.join('\n'))).toBeGreaterThan(0.95);
    for (const [i, l] of lines.entries()) {
      expect(l.confidence).toBeGreaterThan(0.8);
      expect(l.angle).toBe(0);
      expect(l.box).toHaveLength(4);
      for (const [x, y] of l.box) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(meta.width);
        expect(y).toBeLessThan(meta.height);
      }
      // Top to bottom: each line's box starts below the previous line's top.
      if (i > 0) expect(l.box[0]![1]).toBeGreaterThan(lines[i - 1]!.box[0]![1]);
    }
    expect(r.json.metrics.steps_ms).toEqual(
      expect.objectContaining({ decode: expect.any(Number), detect: expect.any(Number), boxes: expect.any(Number), crops: expect.any(Number), read: expect.any(Number), 'read/recognise': expect.any(Number), 'read/classify': expect.any(Number), lines: expect.any(Number) }),
    );
  });

  it('turns an upside-down line before reading it, on a page in another font (JPEG)', async () => {
    const png = await renderPage({ lines: ['Meeting moved to Thursday', { text: 'Please sign both copies', flipped: true }], font: 'Liberation-Serif', pointSize: 30 });
    const jpeg = await sharp(png).jpeg({ quality: 92 }).toBuffer();
    const r = await predict({ image: `data:image/jpeg;base64,${b64(jpeg)}` });
    expect(r.json.status).toBe('succeeded');
    const lines = r.json.output.lines as { text: string; angle: number }[];
    expect(lines.map((l) => l.angle)).toEqual([0, 180]);
    expect(characterAccuracy(r.json.output.text, 'Meeting moved to Thursday\nPlease sign both copies')).toBeGreaterThan(0.95);
  });

  it('answers a blank page with no lines', async () => {
    const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const r = await predict({ image: b64(blank) });
    expect(r.json).toMatchObject({ status: 'succeeded', output: { lines: [], text: '' }, units: 1 });
  });
});

describe('ocr on bad input: a clear failure, bounded, and the worker keeps serving', () => {
  const failedWith = (r: Awaited<ReturnType<typeof predict>>, pattern: RegExp) => {
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ status: 'failed', output: null, units: null, error: { code: 'invalid_input' } });
    expect(r.json.error.message).toMatch(pattern);
  };

  it('not an image', async () => {
    failedWith(await predict({ image: b64(Buffer.from('%PDF-1.7 this is a document, not a picture')) }), /not a PNG, JPEG or WebP/);
  });

  it('a truncated image', async () => {
    const png = await renderPage({ lines: ['cut short'] });
    failedWith(await predict({ image: b64(png.subarray(0, Math.floor(png.length / 2))) }), /could not be (read|decoded)/);
  });

  it('a decompression bomb is refused from its header, before decoding', async () => {
    const started = Date.now();
    const bomb = pngBomb();
    expect(bomb.length).toBeLessThan(10_000);
    failedWith(await predict({ image: b64(bomb) }), /60000x60000 .*the limit is 16000000 pixels/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('an empty image: an empty string is a 422 problem+json, a 1x1 image has no text', async () => {
    const empty = await predict({ image: '' });
    expect(empty.status).toBe(422);
    expect(empty.contentType).toMatch(/^application\/problem\+json/);
    expect(empty.json.code).toBe('validation_failed');
    const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).png().toBuffer();
    expect((await predict({ image: b64(dot) })).json).toMatchObject({ status: 'succeeded', output: { lines: [] } });
  });

  it(`a page of 2,000 tiny words: at most ${OCR_MAX_REGIONS} regions, answered within bounded time, then the worker still reads`, async () => {
    const grid = await renderGrid(40, 50, 24, 19);
    const started = Date.now();
    const r = await predict({ image: b64(grid) }, 60);
    expect(['succeeded', 'failed']).toContain(r.json.status);
    if (r.json.status === 'succeeded') expect(r.json.output.lines.length).toBeLessThanOrEqual(OCR_MAX_REGIONS);
    else expect(r.json.error.message).toMatch(/more than \d+ text regions/);
    expect(Date.now() - started).toBeLessThan(60_000);
    const ok = await predict({ image: b64(await renderPage({ lines: ['still here'] })) });
    expect(ok.json.output.text).toBe('still here');
  }, 90_000);
});
