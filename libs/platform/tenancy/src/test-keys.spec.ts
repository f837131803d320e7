import { describe, expect, it } from '@jest/globals';
import { Controller, Delete, Get, Patch, Post, UseGuards } from '@nestjs/common';
import { MetadataScanner, Reflector } from '@nestjs/core';
import { actorAllows, actorRefusal, type Actor } from './actor.js';
import { OrgGuard, RequirePermission } from './guards.js';
import { ADMINISTRATIVE_PERMISSIONS, PERMISSIONS, ROLES, TEST_KEY_RULES } from './permissions.js';
import { writeRoutesOpenToTestKeys } from './tenancy.module.js';

const key = (mode: 'live' | 'test', scopes: string[] = ['admin']): Actor => ({ kind: 'api_key', keyId: 'k', orgId: 'o', scopes, mode, ip: null });

describe('test-mode keys never administer (issue 9, item 1)', () => {
  it('declares the administrative permissions once: org settings, members, models, webhooks, billing', () => {
    expect([...ADMINISTRATIVE_PERMISSIONS].sort()).toEqual(['billing:manage', 'billing:write', 'members:write', 'models:write', 'org:write', 'webhooks:write']);
    expect(TEST_KEY_RULES['keys:write']).toBe('test_keys_only');
    for (const p of PERMISSIONS) expect(['allowed', 'test_keys_only', 'never']).toContain(TEST_KEY_RULES[p]);
  });

  it('refuses a test admin key every administrative permission, with a detail that says test keys cannot', () => {
    for (const p of ADMINISTRATIVE_PERMISSIONS) {
      expect({ p, allowed: actorAllows(key('test'), p) }).toEqual({ p, allowed: false });
      expect(actorRefusal(key('test'), p)).toMatch(/^Test-mode API keys cannot/);
      // The same scopes in live mode may.
      expect({ p, refusal: actorRefusal(key('live'), p) }).toEqual({ p, refusal: null });
    }
  });

  it('still lets a test key read and manage (test) keys as its scopes allow', () => {
    for (const p of PERMISSIONS.filter((x) => !ADMINISTRATIVE_PERMISSIONS.includes(x))) expect({ p, refusal: actorRefusal(key('test'), p) }).toEqual({ p, refusal: null });
    expect(actorRefusal(key('test', ['predict']), 'org:read')).toBe('This API key lacks the "org:read" permission.');
  });

  it('leaves session users to their role', () => {
    for (const role of ROLES) {
      for (const p of PERMISSIONS) {
        const user: Actor = { kind: 'user', userId: 'u', orgId: 'o', role, ip: null };
        const refusal = actorRefusal(user, p);
        expect(refusal === null || refusal === `This role lacks the "${p}" permission.`).toBe(true);
      }
    }
    expect(actorRefusal({ kind: 'user', userId: 'u', orgId: 'o', role: 'owner', ip: null }, 'members:write')).toBeNull();
  });
});

describe('start-up check: management writes must require a permission test keys cannot use freely', () => {
  @UseGuards(OrgGuard)
  @Controller('v1/orgs/:org/billing')
  class BillingController {
    @Get()
    @RequirePermission('billing:read')
    read() {}

    @Patch()
    @RequirePermission('billing:write')
    change() {}

    @Post('sloppy')
    @RequirePermission('billing:read')
    sloppy() {}

    @Delete('keys')
    @RequirePermission('keys:write')
    keys() {}
  }

  @Controller('public')
  class Unguarded {
    @Post()
    @RequirePermission('org:read')
    free() {}
  }

  it('names a write route behind OrgGuard that requires a permission test keys may use, and only that one', () => {
    const found = writeRoutesOpenToTestKeys([BillingController, Unguarded], new Reflector(), new MetadataScanner());
    expect(found).toEqual(['BillingController.sloppy (billing:read)']);
  });
});
