import { describe, expect, it } from 'vitest';
import { type ActorType, canSteer, type Permission } from '../../src/config/access.js';

const base = { allowedBots: ['renovate'], selfLogin: 'skill-optimizer[bot]' };

describe('canSteer', () => {
  it.each<[Permission | null, boolean, RegExp]>([
    ['admin', true, /has admin permission/],
    ['maintain', true, /has maintain permission/],
    ['write', true, /has write permission/],
    ['triage', false, /triage permission; write, maintain or admin is needed/],
    ['read', false, /read permission; write, maintain or admin is needed/],
    ['none', false, /none permission; write, maintain or admin is needed/],
    [null, false, /not a collaborator/],
  ])('a user with %s permission → allowed %s', (permission, allowed, reason) => {
    const decision = canSteer({ ...base, permission, actorType: 'User', login: 'octocat' });
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toMatch(reason);
  });

  it.each<[ActorType, string, Permission | null, boolean]>([
    ['Bot', 'dependabot[bot]', 'write', false],
    ['Bot', 'dependabot[bot]', null, false],
    ['Bot', 'renovate[bot]', null, true],
    ['Bot', 'Renovate[bot]', 'read', true],
    ['Bot', 'renovate', null, true],
    ['Organization', 'acme', null, false],
    ['Organization', 'acme', 'admin', true],
  ])('%s %s with %s permission → allowed %s', (actorType, login, permission, allowed) => {
    expect(canSteer({ ...base, permission, actorType, login }).allowed).toBe(allowed);
  });

  it('always ignores the app itself, even when allow-listed or admin', () => {
    for (const login of ['skill-optimizer[bot]', 'Skill-Optimizer[bot]', 'skill-optimizer']) {
      const decision = canSteer({
        permission: 'admin',
        actorType: 'Bot',
        login,
        allowedBots: ['skill-optimizer'],
        selfLogin: 'skill-optimizer[bot]',
      });
      expect(decision).toEqual({
        allowed: false,
        reason: `${login} is this app; its own events are ignored`,
      });
    }
  });

  it('does not let a user borrow an allow-listed bot name', () => {
    const decision = canSteer({
      ...base,
      permission: 'read',
      actorType: 'User',
      login: 'renovate',
    });
    expect(decision.allowed).toBe(false);
  });
});
