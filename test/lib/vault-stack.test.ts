import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, VAULT_STACK_ID } from '../../lib/app.js';
import { ACCESS_LOG_DAYS, VaultStack, type VaultStackProps } from '../../lib/vault-stack.js';

// Synthesize with the project's own feature flags, so the tests see the template `cdk synth` deploys.
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const target = { drRegion: 'eu-west-1', account: '111111111111' };

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
  it('finds no unacknowledged errors or warnings in the vault stack', () => {
    const { stack } = synthVault();
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

  it('passes a full app synth with the checks registered, leaving an empty validation report', () => {
    const dir = outdir();
    const { app, vault } = createApp({ context: { ...cdkJson.context, ...target }, outdir: dir }, {});
    expect(vault.node.id).toBe(VAULT_STACK_ID);
    expect(vault.region).toBe(target.drRegion);
    expect(vault.account).toBe(target.account);
    app.synth();
    const report = JSON.parse(readFileSync(path.join(dir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });

  it('fails the app synth on a non-compliant resource (the checks really run)', () => {
    const { app } = createApp({ context: { ...cdkJson.context, ...target }, outdir: outdir() }, {});
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
