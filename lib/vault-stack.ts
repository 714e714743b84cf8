import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack, Token, type StackProps } from 'aws-cdk-lib';
import { AccountRootPrincipal, AnyPrincipal, ArnPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectLockRetention, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** Object Lock with a default retention for every new object version; `mode: 'off'` (the default) leaves it off. */
export interface VaultObjectLock {
  readonly mode: 'off' | 'governance' | 'compliance';
  /** Default retention in days; required unless mode is off. */
  readonly days?: number;
}

export interface VaultStackProps extends StackProps {
  /** Days a replaced or deleted object version is kept: the point-in-time history restore can reach. Default 90. */
  readonly noncurrentVersionDays?: number;
  /**
   * Object Lock default retention. Off by default. Turning it on for an existing vault replaces the
   * bucket (CloudFormation cannot enable it in place); the old bucket is retained.
   */
  readonly objectLock?: VaultObjectLock;
  /** A fixed bucket name, so stacks in other regions can name it (see vaultBucketName in config.ts). Default: generated. */
  readonly bucketName?: string;
  /** Roles of the backup functions (any region): may read and write objects, and use the key through S3. */
  readonly writerRoleArns?: readonly string[];
  /** Operator/restore roles: may read objects and versions, and decrypt through S3. They must exist at deploy time. */
  readonly readerRoleArns?: readonly string[];
}

export const DEFAULT_NONCURRENT_VERSION_DAYS = 90;
/** Key administration, without use: the account keeps control of the key but cannot decrypt backups with it. */
export const KEY_ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];
/** Object data reads; only admitted roles (and the account root user) may make them. */
export const OBJECT_READ_ACTIONS = ['s3:GetObject*', 's3:ListBucket*', 's3:ListMultipartUploadParts'];
/** Object data changes; only backup roles (and the account root user) may make them. */
export const OBJECT_WRITE_ACTIONS = [
  's3:PutObject*',
  's3:DeleteObject*',
  's3:AbortMultipartUpload',
  's3:RestoreObject',
  's3:ReplicateObject',
  's3:ReplicateDelete',
  's3:BypassGovernanceRetention',
];
/** What an operator/restore role is granted: list versions and read any of them. */
export const RESTORE_READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketLocation'];

const ROLE_ARN = /^arn:[a-z-]+:iam::\d{12}:role\/\S+$/;

// Long enough to answer "who read or deleted this backup" well after an incident is noticed.
export const ACCESS_LOG_DAYS = 365;

/** The DR-region vault: a versioned, KMS-encrypted bucket that outlives the stack. */
export class VaultStack extends Stack {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly accessLogs: Bucket;
  private readonly writers: string[] = [];
  private readonly readers: string[] = [];
  private writerKeyStatement?: PolicyStatement;

  constructor(scope: Construct, id: string, props: VaultStackProps = {}) {
    super(scope, id, {
      description: 'argocd-dr: DR-region vault for Argo CD exports and Git bundles (versioned, KMS-encrypted S3)',
      ...props,
    });

    const noncurrentVersionDays = props.noncurrentVersionDays ?? DEFAULT_NONCURRENT_VERSION_DAYS;
    if (!Token.isUnresolved(noncurrentVersionDays) && !(Number.isInteger(noncurrentVersionDays) && noncurrentVersionDays >= 1)) {
      throw new Error(`noncurrentVersionDays: must be a whole number of days, at least 1; got ${noncurrentVersionDays}`);
    }

    const objectLock: VaultObjectLock = props.objectLock ?? { mode: 'off' };
    let objectLockRetention: ObjectLockRetention | undefined;
    if (objectLock.mode !== 'off') {
      const days = objectLock.days;
      if (days === undefined || !(Token.isUnresolved(days) || (Number.isInteger(days) && days >= 1 && days <= 36500))) {
        throw new Error(`objectLock.days: must be a whole number of days from 1 to 36500 when mode is ${objectLock.mode}; got ${days}`);
      }
      if (objectLock.mode === 'governance') objectLockRetention = ObjectLockRetention.governance(Duration.days(days));
      else if (objectLock.mode === 'compliance') objectLockRetention = ObjectLockRetention.compliance(Duration.days(days));
      else throw new Error(`objectLock.mode: must be off, governance or compliance; got ${objectLock.mode}`);
    }

    // Grant S3 log delivery by bucket policy, not ACL, whatever the app's cdk.json says: ACLs stay disabled.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    const root = new AccountRootPrincipal();
    this.key = new Key(this, 'VaultKey', {
      description: 'argocd-dr vault: encrypts Argo CD exports and Git bundles',
      enableKeyRotation: true,
      // Replaces CDK's default `kms:*` for the account: the account administers the key (and can
      // always repair this policy), but only admitted roles use it, and only through S3.
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'AccountAdministersKey',
            principals: [root],
            actions: KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
      // Deleting the key would make every retained backup unreadable.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // cdk-nag's S1 accepts this bucket unlogged because it is the vault's log destination.
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      // AWS documents SSE-S3 as the only default encryption an access-log destination supports.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(ACCESS_LOG_DAYS) }],
      // The record of who touched the vault must outlive the stack, like the vault itself.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new Bucket(this, 'Vault', {
      bucketName: props.bucketName,
      // Versioning (required by Object Lock too) is the point-in-time history the restore command reads.
      versioned: true,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of a KMS call per object: multipart bundle uploads stay cheap.
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'vault/',
      lifecycleRules: [
        // Backstop for uploads whose process died before the store could abort them itself.
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Current versions are never expired; only history older than the window goes.
        { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(noncurrentVersionDays) },
      ],
      // Every new object version is locked for the retention period: not even a writer can remove it early.
      objectLockEnabled: objectLockRetention !== undefined ? true : undefined,
      objectLockDefaultRetention: objectLockRetention,
      // A backup vault must survive `cdk destroy`.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Only admitted roles touch the data. Bucket configuration actions stay with the account's IAM,
    // so CloudFormation (and the account's administrators) can still manage the bucket and this policy.
    // aws:PrincipalArn of the account root user is the root ARN; IAM users and other roles never match it.
    const rootArn = root.arn;
    const objects = [this.bucket.bucketArn, this.bucket.arnForObjects('*')];
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyObjectReadsToUnadmittedPrincipals',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: OBJECT_READ_ACTIONS,
        resources: objects,
        conditions: {
          ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => [...this.writers, ...this.readers, rootArn] }) },
        },
      }),
    );
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyObjectWritesToNonBackupPrincipals',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: OBJECT_WRITE_ACTIONS,
        resources: objects,
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => [...this.writers, rootArn] }) } },
      }),
    );

    for (const arn of props.writerRoleArns ?? []) this.grantBackupAccess(arn);
    for (const arn of props.readerRoleArns ?? []) this.grantRestoreAccess(arn);

    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'Vault bucket (versioned)' });
    new CfnOutput(this, 'KeyArn', { value: this.key.keyArn, description: 'KMS key encrypting the vault' });
  }

  /** Role ARNs admitted as backup writers so far. */
  get writerRoleArns(): readonly string[] {
    return [...this.writers];
  }

  /** Role ARNs admitted as readers (operator/restore) so far. */
  get readerRoleArns(): readonly string[] {
    return [...this.readers];
  }

  /**
   * Admits a backup role by ARN: it may read and write objects (what it actually may do is its own
   * identity policy's business: prefixes, actions) and use the key through S3 in this region. The role
   * may live in another region's stack and need not exist yet: it is matched by `aws:PrincipalArn`,
   * so the key policy grants it directly and its identity policy needs no KMS statement.
   */
  grantBackupAccess(roleArn: string): void {
    checkRoleArn(roleArn, 'writerRoleArns');
    if (this.writers.includes(roleArn)) return;
    this.writers.push(roleArn);
    if (this.writerKeyStatement) return;
    this.writerKeyStatement = new PolicyStatement({
      sid: 'BackupRolesUseKeyThroughS3',
      principals: [new AnyPrincipal()],
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        ArnEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => [...this.writers] }) },
        StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com`, 'aws:PrincipalAccount': this.account },
      },
    });
    this.key.addToResourcePolicy(this.writerKeyStatement);
  }

  /** Admits an operator/restore role (which must exist): list and read every object version, decrypt through S3. */
  grantRestoreAccess(roleArn: string): void {
    checkRoleArn(roleArn, 'readerRoleArns');
    if (this.readers.includes(roleArn)) return;
    this.readers.push(roleArn);
    const sid = `RestoreRole${this.readers.length}`;
    const principal = new ArnPrincipal(roleArn);
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid,
        principals: [principal],
        actions: RESTORE_READ_ACTIONS,
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: `${sid}DecryptsThroughS3`,
        principals: [principal],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
      }),
    );
  }
}

function checkRoleArn(arn: string, field: string): void {
  if (!Token.isUnresolved(arn) && !ROLE_ARN.test(arn)) {
    throw new Error(`${field}: ${JSON.stringify(arn)} is not an IAM role ARN such as arn:aws:iam::123456789012:role/name`);
  }
}
