import { CfnOutput, Duration, RemovalPolicy, Stack, Token, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

export interface VaultStackProps extends StackProps {
  /** Days a replaced or deleted object version is kept: the point-in-time history restore can reach. Default 90. */
  readonly noncurrentVersionDays?: number;
}

export const DEFAULT_NONCURRENT_VERSION_DAYS = 90;
// Long enough to answer "who read or deleted this backup" well after an incident is noticed.
export const ACCESS_LOG_DAYS = 365;

/** The DR-region vault: a versioned, KMS-encrypted bucket that outlives the stack. */
export class VaultStack extends Stack {
  readonly bucket: Bucket;
  readonly key: Key;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: VaultStackProps = {}) {
    super(scope, id, {
      description: 'argocd-dr: DR-region vault for Argo CD exports and Git bundles (versioned, KMS-encrypted S3)',
      ...props,
    });

    const noncurrentVersionDays = props.noncurrentVersionDays ?? DEFAULT_NONCURRENT_VERSION_DAYS;
    if (!Token.isUnresolved(noncurrentVersionDays) && !(Number.isInteger(noncurrentVersionDays) && noncurrentVersionDays >= 1)) {
      throw new Error(`noncurrentVersionDays: must be a whole number of days, at least 1; got ${noncurrentVersionDays}`);
    }

    // Grant S3 log delivery by bucket policy, not ACL, whatever the app's cdk.json says: ACLs stay disabled.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    this.key = new Key(this, 'VaultKey', {
      description: 'argocd-dr vault: encrypts Argo CD exports and Git bundles',
      enableKeyRotation: true,
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
      // Versioning is the point-in-time history the restore command reads.
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
      // A backup vault must survive `cdk destroy`.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName, description: 'Vault bucket (versioned)' });
    new CfnOutput(this, 'KeyArn', { value: this.key.keyArn, description: 'KMS key encrypting the vault' });
  }
}
