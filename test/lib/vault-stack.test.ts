import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, VAULT_STACK_ID } from '../../lib/app.js';
import { backupRoleArns, BACKUP_ROLE_PURPOSES, vaultBucketName } from '../../lib/config.js';
import {
  ACCESS_LOG_DAYS,
  KEY_ADMIN_ACTIONS,
  OBJECT_READ_ACTIONS,
  OBJECT_WRITE_ACTIONS,
  RESTORE_READ_ACTIONS,
  VaultStack,
  type VaultStackProps,
} from '../../lib/vault-stack.js';

// Synthesize with the project's own feature flags, so the tests see the template `cdk synth` deploys.
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const target = { drRegion: 'eu-west-1', account: '111111111111' };
const samplePath = fileURLToPath(new URL('../../config/argocd-dr.sample.json', import.meta.url));
const sample = JSON.parse(readFileSync(samplePath, 'utf8')) as { account: string; drRegion: string; operatorRoleArns: string[] };

const outdirs: string[] = [];
function outdir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
  outdirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function synthVault(props: VaultStackProps = {}) {
  const app = new App({ context: cdkJson.context, outdir: outdir() });
  const stack = new VaultStack(app, 'Vault', { env: { account: target.account, region: target.drRegion }, ...props });
  const template = Template.fromStack(stack);
  const id = (element: unknown) => stack.getLogicalId(element as CfnElement);
  const resources = template.toJSON().Resources as Record<string, Record<string, unknown>>;
  return {
    stack,
    template,
    ids: { vault: id(stack.bucket.node.defaultChild), key: id(stack.key.node.defaultChild), logs: id(stack.accessLogs.node.defaultChild) },
    resource: (logicalId: string) => resources[logicalId],
  };
}

const blockAll = { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true };
const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };

function tlsOnly(bucketId: string) {
  return {
    Bucket: { Ref: bucketId },
    PolicyDocument: {
      Statement: Match.arrayWith([
        {
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Resource: [
            { 'Fn::GetAtt': [bucketId, 'Arn'] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
          ],
        },
      ]),
    },
  };
}

describe('VaultStack', () => {
  const { stack, template, ids, resource } = synthVault();

  it('has one customer-managed key with rotation on, retained on delete and replace', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(resource(ids.key)).toMatchObject({ Properties: { EnableKeyRotation: true }, ...retained });
  });

  it('versions the vault bucket and retains it on delete and replace', () => {
    expect(resource(ids.vault)).toMatchObject({
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
      ...retained,
    });
  });

  it('encrypts the vault with SSE-KMS under its own key, with the bucket key on', () => {
    expect(resource(ids.vault)).toMatchObject({
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
            },
          ],
        },
      },
    });
  });

  it('blocks all public access and disables ACLs', () => {
    expect(resource(ids.vault)).toMatchObject({
      Properties: {
        PublicAccessBlockConfiguration: blockAll,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      },
    });
  });

  it('denies every request not made over TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', tlsOnly(ids.vault));
  });

  it('aborts incomplete multipart uploads after 1 day and expires noncurrent versions after 90 days by default', () => {
    expect(resource(ids.vault)?.Properties).toMatchObject({
      LifecycleConfiguration: {
        Rules: [
          { Id: 'abort-incomplete-multipart-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          { Id: 'expire-noncurrent-versions', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 90 } },
        ],
      },
    });
    // No rule may expire current versions: the latest backup of everything stays.
    const rules = (resource(ids.vault)?.Properties as { LifecycleConfiguration: { Rules: object[] } }).LifecycleConfiguration.Rules;
    for (const rule of rules) expect(rule).not.toHaveProperty('ExpirationInDays');
  });

  it('takes the noncurrent-version window from props', () => {
    const custom = synthVault({ noncurrentVersionDays: 30 });
    expect(custom.resource(custom.ids.vault)?.Properties).toMatchObject({
      LifecycleConfiguration: { Rules: [{}, { NoncurrentVersionExpiration: { NoncurrentDays: 30 } }] },
    });
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects noncurrentVersionDays %s, naming the field', (days) => {
    expect(() => synthVault({ noncurrentVersionDays: days })).toThrow(/^noncurrentVersionDays: /);
  });

  it('logs access to a private, TLS-only, SSE-S3, retained bucket that log delivery writes by bucket policy', () => {
    expect(resource(ids.vault)?.Properties).toMatchObject({
      LoggingConfiguration: { DestinationBucketName: { Ref: ids.logs }, LogFilePrefix: 'vault/' },
    });
    expect(resource(ids.logs)).toMatchObject({
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: blockAll,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: ACCESS_LOG_DAYS, Status: 'Enabled' }] },
      },
      ...retained,
    });
    expect(resource(ids.logs)?.Properties).not.toHaveProperty('AccessControl');
    template.hasResourceProperties('AWS::S3::BucketPolicy', tlsOnly(ids.logs));
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: ids.logs },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [ids.vault, 'Arn'] } } },
          }),
        ]),
      },
    });
  });

  it('does not depend on the app enabling policy-based log delivery', () => {
    // A bare App lacks cdk.json's flags; ACL-based log delivery would clash with BucketOwnerEnforced.
    const bare = new VaultStack(new App({ outdir: outdir() }), 'Bare');
    const logs = bare.getLogicalId(bare.accessLogs.node.defaultChild as CfnElement);
    expect(Template.fromStack(bare).toJSON().Resources[logs].Properties).not.toHaveProperty('AccessControl');
  });

  it('outputs the bucket name and the key ARN', () => {
    template.hasOutput('BucketName', { Value: { Ref: ids.vault } });
    template.hasOutput('KeyArn', { Value: { 'Fn::GetAtt': [ids.key, 'Arn'] } });
  });

  it('raises no CDK warnings or errors', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });
});

// cdk-nag 3 reports through CDK policy validation, not annotations: check its report directly and through synth.
describe('cdk-nag AwsSolutions', () => {
  it.each<[string, VaultStackProps]>([
    ['bare', {}],
    ['with roles and Object Lock', { writerRoleArns: [writerA, writerB], readerRoleArns: [operator], objectLock: { mode: 'compliance', days: 7 } }],
  ])('finds no unacknowledged errors or warnings in the vault stack (%s)', (_name, props) => {
    const { stack } = synthVault(props);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('needs no acknowledgments', () => {
    // Any future acknowledgment has to show up here, with its reason, to be reviewed.
    const { stack } = synthVault();
    const acknowledged = stack.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .map((entry) => ({ path: construct.node.path, rules: entry.data as unknown })),
    );
    expect(acknowledged).toEqual([]);
  });

  it('passes a full app synth of the sample config with the checks registered, leaving an empty validation report', () => {
    const dir = outdir();
    const { app, vault } = createApp({ context: { ...cdkJson.context, config: samplePath }, outdir: dir }, {});
    expect(vault.node.id).toBe(VAULT_STACK_ID);
    expect(vault.region).toBe(sample.drRegion);
    expect(vault.account).toBe(sample.account);
    app.synth();
    const report = JSON.parse(readFileSync(path.join(dir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });

  it('fails the app synth on a non-compliant resource (the checks really run)', () => {
    const { app } = createApp({ context: { ...cdkJson.context, config: samplePath }, outdir: outdir() }, {});
    new Bucket(new Stack(app, 'Control'), 'Bare');
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/AwsSolutions-S1[\s\S]*Control\/Bare/);
    expect(message).not.toContain(VAULT_STACK_ID);
  });
});

const writerA = 'arn:aws:iam::111111111111:role/argocd-dr-mirror-us-east-1';
const writerB = 'arn:aws:iam::111111111111:role/argocd-dr-export-eu-central-1';
const operator = 'arn:aws:iam::111111111111:role/argocd-dr-restore';
// cdk.json's enablePartitionLiterals: the partition is known from the region.
const rootArn = 'arn:aws:iam::111111111111:root';

interface Statement {
  Sid?: string;
  Effect: string;
  Principal: unknown;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
function statements(document: unknown): Statement[] {
  return (document as { Statement: Statement[] }).Statement;
}
// cdk.json's minimizePolicies sorts the actions of each statement.
const sorted = (list: readonly string[]) => [...list].sort();
const actions = (statement: Statement | undefined) => [statement?.Action ?? []].flat();

describe('VaultStack Object Lock', () => {
  it('is off by default and when mode is off', () => {
    for (const props of [{}, { objectLock: { mode: 'off' as const } }]) {
      const { ids, resource } = synthVault(props);
      expect(resource(ids.vault)?.Properties).not.toHaveProperty('ObjectLockEnabled');
      expect(resource(ids.vault)?.Properties).not.toHaveProperty('ObjectLockConfiguration');
    }
  });

  it.each([
    ['governance', 'GOVERNANCE'],
    ['compliance', 'COMPLIANCE'],
  ] as const)('sets a %s default retention, with versioning still on', (mode, cfnMode) => {
    const { ids, resource } = synthVault({ objectLock: { mode, days: 30 } });
    expect(resource(ids.vault)?.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: cfnMode, Days: 30 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  it.each([undefined, 0, 1.5, 36501])('rejects Object Lock days %s, naming the field', (days) => {
    expect(() => synthVault({ objectLock: { mode: 'governance', days } })).toThrow(/^objectLock\.days: /);
  });
});

describe('VaultStack access', () => {
  function policies(props: VaultStackProps, after?: (stack: VaultStack) => void) {
    const app = new App({ context: cdkJson.context, outdir: outdir() });
    const stack = new VaultStack(app, 'Vault', { env: { account: target.account, region: target.drRegion }, ...props });
    after?.(stack);
    const template = Template.fromStack(stack);
    const vaultId = stack.getLogicalId(stack.bucket.node.defaultChild as CfnElement);
    const keyId = stack.getLogicalId(stack.key.node.defaultChild as CfnElement);
    const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
    const bucketPolicy = Object.values(resources).find(
      (r) => r.Type === 'AWS::S3::BucketPolicy' && JSON.stringify(r.Properties.Bucket) === JSON.stringify({ Ref: vaultId }),
    );
    const bucket = statements(bucketPolicy?.Properties.PolicyDocument);
    const key = statements(resources[keyId]?.Properties.KeyPolicy);
    const sid = (list: Statement[], name: string) => list.find((st) => st.Sid === name);
    return { bucket, key, sid };
  }

  it('lets only the account administer the key, without using it', () => {
    const { key } = policies({ writerRoleArns: [writerA], readerRoleArns: [operator] });
    const rootStatements = key.filter((st) => JSON.stringify(st.Principal) === JSON.stringify({ AWS: rootArn }));
    expect(rootStatements).toHaveLength(1);
    expect(rootStatements[0]).toMatchObject({ Sid: 'AccountAdministersKey', Effect: 'Allow', Action: sorted(KEY_ADMIN_ACTIONS) });
    // kms:Put* keeps PutKeyPolicy with the account: it can always repair the policy.
    expect(KEY_ADMIN_ACTIONS).toContain('kms:Put*');
    for (const st of key) {
      expect(actions(st)).not.toContain('kms:*');
      if (st.Sid === 'AccountAdministersKey') {
        for (const action of ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*']) expect(actions(st)).not.toContain(action);
      }
    }
  });

  it('lets exactly the backup roles encrypt and decrypt, only through S3 in the DR region', () => {
    const { key, sid } = policies({ writerRoleArns: [writerA, writerB, writerA] });
    expect(sid(key, 'BackupRolesUseKeyThroughS3')).toEqual({
      Sid: 'BackupRolesUseKeyThroughS3',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: sorted(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*']),
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': [writerA, writerB] },
        StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com', 'aws:PrincipalAccount': target.account },
      },
    });
    expect(key.map((st) => st.Sid)).toEqual(['AccountAdministersKey', 'BackupRolesUseKeyThroughS3']);
  });

  it('lets operator roles only decrypt through S3, and read every version', () => {
    const { key, bucket, sid } = policies({ readerRoleArns: [operator] });
    expect(sid(key, 'RestoreRole1DecryptsThroughS3')).toEqual({
      Sid: 'RestoreRole1DecryptsThroughS3',
      Effect: 'Allow',
      Principal: { AWS: operator },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
    expect(sid(bucket, 'RestoreRole1')).toMatchObject({ Effect: 'Allow', Principal: { AWS: operator }, Action: sorted(RESTORE_READ_ACTIONS) });
    // No backup roles: nobody else may use the key.
    expect(key.map((st) => st.Sid)).toEqual(['AccountAdministersKey', 'RestoreRole1DecryptsThroughS3']);
  });

  it('denies object reads to everyone but the admitted roles and the account root user', () => {
    const { bucket, sid } = policies({ writerRoleArns: [writerA], readerRoleArns: [operator] });
    expect(sid(bucket, 'DenyObjectReadsToUnadmittedPrincipals')).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: sorted(OBJECT_READ_ACTIONS),
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [writerA, operator, rootArn] } },
    });
  });

  it('denies object writes and deletes to everyone but the backup roles and the account root user', () => {
    const { bucket, sid } = policies({ writerRoleArns: [writerA], readerRoleArns: [operator] });
    expect(sid(bucket, 'DenyObjectWritesToNonBackupPrincipals')).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: sorted(OBJECT_WRITE_ACTIONS),
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [writerA, rootArn] } },
    });
    expect(OBJECT_WRITE_ACTIONS).toEqual(expect.arrayContaining(['s3:PutObject*', 's3:DeleteObject*', 's3:BypassGovernanceRetention']));
  });

  it('leaves bucket configuration to the account, so CloudFormation can still manage the bucket and its policy', () => {
    const { bucket } = policies({ writerRoleArns: [writerA] });
    const denied = bucket.filter((st) => st.Effect === 'Deny' && st.Condition?.ArnNotEquals).flatMap(actions);
    for (const action of denied) expect(action).toMatch(/^s3:(GetObject|ListBucket|ListMultipartUploadParts|PutObject|DeleteObject|AbortMultipartUpload|RestoreObject|Replicate|BypassGovernanceRetention)/);
    expect(denied).not.toContain('s3:*');
    // Nothing but the operators is allowed by the bucket policy: backup roles get S3 from their own (prefix-scoped) identity policies.
    expect(bucket.filter((st) => st.Effect === 'Allow')).toEqual([]);
  });

  it('admits roles granted after construction', () => {
    const { key, bucket, sid } = policies({ writerRoleArns: [writerA] }, (stack) => {
      stack.grantBackupAccess(writerB);
      stack.grantRestoreAccess(operator);
      expect(stack.writerRoleArns).toEqual([writerA, writerB]);
      expect(stack.readerRoleArns).toEqual([operator]);
    });
    expect(sid(key, 'BackupRolesUseKeyThroughS3')?.Condition?.ArnEquals).toEqual({ 'aws:PrincipalArn': [writerA, writerB] });
    expect(sid(bucket, 'DenyObjectReadsToUnadmittedPrincipals')?.Condition?.ArnNotEquals).toEqual({
      'aws:PrincipalArn': [writerA, writerB, operator, rootArn],
    });
  });

  it('rejects a principal that is not a role ARN', () => {
    expect(() => policies({ writerRoleArns: ['arn:aws:iam::111111111111:user/alice'] })).toThrow(/^writerRoleArns: /);
    expect(() => policies({ readerRoleArns: ['*'] })).toThrow(/^readerRoleArns: /);
  });

  it('is built by the app from the config: every backup role in every cluster region, the operators, a fixed name', () => {
    const { vault, config } = createApp({ context: { ...cdkJson.context, config: samplePath }, outdir: outdir() }, {});
    expect(vault.writerRoleArns).toEqual(backupRoleArns(config));
    expect(vault.writerRoleArns).toHaveLength(BACKUP_ROLE_PURPOSES.length * 2);
    expect(vault.writerRoleArns).toContain('arn:aws:iam::123456789012:role/argocd-dr-mirror-eu-central-1');
    expect(vault.readerRoleArns).toEqual(sample.operatorRoleArns);
    const template = Template.fromStack(vault).toJSON() as { Resources: Record<string, { Properties: Record<string, unknown> }> };
    const bucket = template.Resources[vault.getLogicalId(vault.bucket.node.defaultChild as CfnElement)];
    expect(bucket?.Properties).toMatchObject({
      BucketName: vaultBucketName(config),
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } },
      LifecycleConfiguration: { Rules: [{}, { NoncurrentVersionExpiration: { NoncurrentDays: 90 } }] },
    });
  });

  it('fails the app on a bad config, naming the field', () => {
    expect(() => createApp({ context: { ...cdkJson.context, config: samplePath, drRegion: 'us-east-1' }, outdir: outdir() }, {})).toThrow(
      /^clusters\[0\]\.region: cluster "prod-use1" is in the DR region us-east-1/,
    );
  });
});
