import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupStack, type BackupStackProps } from '../../lib/backup-stack.js';
import { parseConfig } from '../../lib/config.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
const account = '111111111111';
const region = 'us-east-1';
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function synth(overrides: Partial<BackupStackProps>) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
  outdirs.push(outdir);
  const app = new App({ context: cdkJson.context, outdir });
  const stack = new BackupStack(app, 'Backup', {
    env: { account, region },
    clusters: [{ name: 'prod', region, namespace: 'argocd' }],
    vaultBucketName: 'argocd-dr-vault',
    drRegion: 'eu-west-1',
    schedules: { backup: 'rate(1 hour)', verifySweep: 'cron(0 3 ? * SUN *)' },
    extraRepos: ['git@git.example.com:platform/charts.git'],
    ...overrides,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** Role logical ids whose policies allow secretsmanager:GetSecretValue, with the resources they name. */
function secretGrants(template: Template): Record<string, unknown[]> {
  const grants: Record<string, unknown[]> = {};
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const properties = policy.Properties as { Roles: { Ref: string }[]; PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
    for (const statement of properties.PolicyDocument.Statement) {
      const actions = [statement.Action].flat();
      if (actions.some((action) => action.startsWith('secretsmanager:'))) {
        expect(actions).toEqual(['secretsmanager:GetSecretValue']);
        for (const role of properties.Roles) (grants[role.Ref] ??= []).push(statement.Resource);
      }
    }
  }
  return grants;
}

describe('extraReposSecret', () => {
  it('lets the plan and mirror functions, and nothing else, read that one secret', () => {
    const { stack, template } = synth({ extraReposSecret: 'argocd-dr/extra-repos' });
    const roleId = (purpose: 'plan' | 'mirror') => stack.getLogicalId(stack.functions[purpose].executionRole.node.defaultChild as never);
    const grants = secretGrants(template);
    expect(Object.keys(grants).sort()).toEqual([roleId('mirror'), roleId('plan')].sort());
    for (const resources of Object.values(grants)) {
      expect(JSON.stringify(resources)).toContain(':secretsmanager:us-east-1:111111111111:secret:argocd-dr/extra-repos-??????');
    }
    for (const purpose of ['plan', 'mirror'] as const) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp(purpose === 'plan' ? 'Lists refs' : 'Mirrors one Git repository'),
        Environment: { Variables: Match.objectLike({ EXTRA_REPOS_SECRET: 'argocd-dr/extra-repos' }) },
      });
    }
  });

  it('takes a full ARN as it is', () => {
    const arn = `arn:aws:secretsmanager:${region}:${account}:secret:git-creds-AbCdEf`;
    const grants = secretGrants(synth({ extraReposSecret: arn }).template);
    expect(Object.values(grants).flat()).toEqual([arn, arn]);
  });

  it('gives a partial ARN (no six-character suffix) the suffix as a wildcard', () => {
    const arn = `arn:aws:secretsmanager:${region}:${account}:secret:argocd-dr/extra-repos`;
    const grants = secretGrants(synth({ extraReposSecret: arn }).template);
    expect(Object.values(grants).flat()).toEqual([`${arn}-??????`, `${arn}-??????`]);
  });

  it('grants nothing without it', () => {
    expect(secretGrants(synth({}).template)).toEqual({});
  });

  it('is accepted by the config with ssh and scp-style extra repos', () => {
    const config = parseConfig({
      account, drRegion: 'eu-west-1', clusters: [{ name: 'prod', region }],
      extraRepos: ['https://git.example.com/a.git', 'ssh://git@git.example.com/b.git', 'git@git.example.com:c/d.git'],
      extraReposSecret: 'argocd-dr/extra-repos',
    });
    expect(config.extraReposSecret).toBe('argocd-dr/extra-repos');
    expect(config.extraRepos).toHaveLength(3);
  });
});
