// Per-plan quotas on uploaded models against the real Postgres (own schema): the check holds
// when many registrations race at the quota's edge (the organization's lock), deleted versions
// stop counting, and a deletion never removes a file another version's registration relies on.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uuidv7 } from '#infra/db';
import { deleteUploadedVersion, isQuotaRefusal, registerUploadedVersion, uploadedVersionConfig, uploadUsage, type NewUploadedVersion, type UploadQuota } from '#model-service/model-registry';
import type { ModelSignature } from '#model-service/tensors';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
const SIGNATURE: ModelSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['n', 3] }] };

async function newOrg(slug: string): Promise<string> {
  const plan = await db.prisma.plan.create({ data: { id: uuidv7(), key: `plan-${slug}`, name: slug, rateLimitPerMinute: 60 } });
  const org = await db.prisma.organization.create({ data: { id: uuidv7(), slug, name: slug, planId: plan.id } });
  return org.id;
}

function version(orgId: string, name: string, v: string, sizeBytes: number, sha = v.padStart(64, '0')): NewUploadedVersion {
  return { orgId, name, version: v, sha256: sha, sizeBytes, artifactUri: `storage:sha256/${sha}.onnx`, signature: SIGNATURE, config: uploadedVersionConfig(SIGNATURE) };
}

beforeAll(async () => {
  db = await createTestDatabase('upload_quotas');
});

afterAll(async () => {
  await db?.drop();
});

describe('upload quotas under concurrency', () => {
  it('lets exactly one of 12 racing registrations take the last version slot', async () => {
    const orgId = await newOrg('race-versions');
    const quota: UploadQuota = { maxVersions: 3, maxStorageBytes: 1n << 40n };
    for (const v of ['1', '2']) expect(isQuotaRefusal(await registerUploadedVersion(db.prisma, version(orgId, 'm', v, 10), { quota }))).toBe(false);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => registerUploadedVersion(db.prisma, version(orgId, `m${i}`, '1', 10), { quota })));
    const passed = results.filter((r) => !isQuotaRefusal(r) && r !== 'conflict');
    const refused = results.filter(isQuotaRefusal);
    expect(passed).toHaveLength(1);
    expect(refused).toHaveLength(11);
    expect(refused.every((r) => r.refused === 'versions')).toBe(true);
    expect(await uploadUsage(db.prisma, orgId)).toEqual({ versions: 3, storageBytes: 30n });
  });

  it('lets racing registrations fill the storage quota but never pass it', async () => {
    const orgId = await newOrg('race-storage');
    const quota: UploadQuota = { maxVersions: 1000, maxStorageBytes: 1000n };
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => registerUploadedVersion(db.prisma, version(orgId, 'big', String(i + 1), 300), { quota })));
    expect(results.filter((r) => !isQuotaRefusal(r))).toHaveLength(3);
    expect(results.filter(isQuotaRefusal).every((r) => r.refused === 'storage')).toBe(true);
    expect(await uploadUsage(db.prisma, orgId)).toEqual({ versions: 3, storageBytes: 900n });
  });

  it('stops counting a deleted version; refuses to delete the default or an unknown version; never reuses the number', async () => {
    const orgId = await newOrg('delete-frees');
    const quota: UploadQuota = { maxVersions: 2, maxStorageBytes: 1n << 40n };
    await registerUploadedVersion(db.prisma, version(orgId, 'm', '1', 10), { quota });
    await registerUploadedVersion(db.prisma, version(orgId, 'm', '2', 20), { quota });
    expect(isQuotaRefusal(await registerUploadedVersion(db.prisma, version(orgId, 'm', '3', 5), { quota }))).toBe(true);
    expect(await deleteUploadedVersion(db.prisma, { orgId, name: 'm', version: '2' })).toBe('default');
    expect(await deleteUploadedVersion(db.prisma, { orgId: await newOrg('someone-else'), name: 'm', version: '1' })).toBe('not_found');
    const deleted = await deleteUploadedVersion(db.prisma, { orgId, name: 'm', version: '1' });
    expect(deleted).toMatchObject({ name: 'm', version: '1', sizeBytes: 10 });
    expect(await deleteUploadedVersion(db.prisma, { orgId, name: 'm', version: '1' })).toBe('not_found');
    expect(await uploadUsage(db.prisma, orgId)).toEqual({ versions: 1, storageBytes: 20n });
    expect(await registerUploadedVersion(db.prisma, version(orgId, 'm', '1', 10), { quota })).toBe('conflict');
    expect(isQuotaRefusal(await registerUploadedVersion(db.prisma, version(orgId, 'm', '3', 5), { quota }))).toBe(false);
  });
});

/** True once a session waits on the artifact's advisory lock (a condition, polled; not a sleep standing in for it). */
async function someoneWaitsOnArtifactLock(artifactUri: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await db.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*)::bigint AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(${'stratum:artifact:' + artifactUri}, 0)`;
    if ((row?.n ?? 0n) > 0n) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('the stored file of a deleted version', () => {
  it('stays while another organization registers the same bytes: the deletion waits for that registration and then sees the file is used', async () => {
    const sha = 'ab'.repeat(32);
    const a = await newOrg('artifact-a');
    const b = await newOrg('artifact-b');
    await registerUploadedVersion(db.prisma, version(a, 'm', '1', 10, sha));
    await registerUploadedVersion(db.prisma, version(a, 'm', '2', 10, 'cd'.repeat(32)));
    const removed: string[] = [];
    let deletion: Promise<unknown> | undefined;
    let waited = false;
    // b's registration has placed the file (it exists already: stored once) and not committed yet
    // when a deletes its version of the same bytes.
    const registered = await registerUploadedVersion(db.prisma, version(b, 'same-bytes', '1', 10, sha), {
      place: async () => {
        deletion = deleteUploadedVersion(db.prisma, { orgId: a, name: 'm', version: '1' }, { removeArtifact: async (uri) => void removed.push(uri) });
        waited = await someoneWaitsOnArtifactLock(`storage:sha256/${sha}.onnx`);
      },
    });
    expect(isQuotaRefusal(registered) || registered === 'conflict').toBe(false);
    expect(waited).toBe(true);
    expect(await deletion).toMatchObject({ version: '1', artifactRemoved: false });
    expect(removed).toEqual([]);
    // Once no kept version uses the bytes, deleting the last user's version would remove them; b's is its default.
    expect(await deleteUploadedVersion(db.prisma, { orgId: b, name: 'same-bytes', version: '1' })).toBe('default');
    await registerUploadedVersion(db.prisma, version(b, 'same-bytes', '2', 10, 'ef'.repeat(32)));
    expect(await deleteUploadedVersion(db.prisma, { orgId: b, name: 'same-bytes', version: '1' }, { removeArtifact: async (uri) => void removed.push(uri) })).toMatchObject({ artifactRemoved: true });
    expect(removed).toEqual([`storage:sha256/${sha}.onnx`]);
  });
});
