import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  S3Client,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertValidKey, assertValidPrefix, MeasuredBody, type ObjectVersion, type PutOptions, type PutResult, type Store } from './store.js';

/** 8 MiB parts, two in flight and one filling: an upload's buffers do not grow with the object. */
export const PART_SIZE = 8 * 1024 * 1024;
export const QUEUE_SIZE = 2;

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix without leading or trailing '/', e.g. `backups/prod`; '' for the bucket's root. */
  prefix?: string;
  /** KMS key id or ARN: objects are written with SSE-KMS and an S3 Bucket Key. */
  kmsKeyId?: string;
  /** For tests; S3 needs at least 5 MiB. */
  partSize?: number;
  queueSize?: number;
}

/**
 * A store under `s3://bucket/prefix`. Puts stream through a multipart upload, which S3 makes
 * visible only on CompleteMultipartUpload, so a failed body never replaces the current object; a
 * body smaller than one part becomes a single PutObject, sent only once the body has ended.
 */
export class S3Store implements Store {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly kmsKeyId: string | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3StoreOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (!options.bucket) throw new Error('S3Store needs a bucket name.');
    if (prefix !== '') assertValidPrefix(prefix);
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.kmsKeyId = options.kmsKeyId || undefined;
    this.partSize = options.partSize ?? PART_SIZE;
    this.queueSize = options.queueSize ?? QUEUE_SIZE;
    this.location = prefix ? `s3://${this.bucket}/${prefix}` : `s3://${this.bucket}`;
  }

  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const objectKey = this.objectKey(key);
    let crc = 0;
    const measured = new MeasuredBody(body, (chunk) => {
      crc = crc32(chunk, crc);
    });

    const upload = new Upload({
      client: this.client,
      partSize: this.partSize,
      queueSize: this.queueSize,
      // We abort ourselves, so a failing abort cannot replace the error that caused it.
      leavePartsOnError: true,
      params: {
        Bucket: this.bucket,
        Key: objectKey,
        Body: Readable.from(measured.chunks()),
        ContentType: options.contentType ?? 'application/octet-stream',
        // lib-storage sends every part as a Buffer, so the SDK puts its CRC32 in a header rather
        // than an aws-chunked trailer: S3 checks each part, and s3rver stores the bytes intact.
        ChecksumAlgorithm: 'CRC32',
        ...(this.kmsKeyId ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyId, BucketKeyEnabled: true } : {}),
      },
    });

    let versionId: string | undefined;
    try {
      versionId = (await upload.done()).VersionId;
    } catch (error) {
      await this.abortUpload(objectKey, upload.uploadId);
      if (measured.failure) throw measured.failure.error;
      throw this.failure(error, 'write', objectKey, 's3:PutObject');
    }
    await this.confirm(objectKey, versionId, measured.bytes, crc);
    return measured.result();
  }

  async get(key: string): Promise<Readable | undefined> {
    const output = await this.getObject(key);
    if (output === undefined) return undefined;
    if (output.Body instanceof Readable) return output.Body;
    throw new Error(`Reading s3://${this.bucket}/${this.objectKey(key)}: the S3 client returned a body that is not a Node.js stream.`);
  }

  async getText(key: string): Promise<string | undefined> {
    const output = await this.getObject(key);
    if (output === undefined) return undefined;
    if (output.Body === undefined) return '';
    try {
      return await output.Body.transformToString('utf-8');
    } catch (error) {
      throw this.failure(error, 'read', this.objectKey(key), 's3:GetObject');
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const objectKey = this.objectKey(key);
    try {
      const output = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { size: output.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure(error, 'read', objectKey, 's3:GetObject');
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw this.failure(error, 'list', base + prefix, 's3:ListBucket');
      }
      for (const object of page.Contents ?? []) {
        // Keys ending in '/' are folder markers made by consoles, not objects of this store.
        if (object.Key?.startsWith(base) && !object.Key.endsWith('/')) yield object.Key.slice(base.length);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The bucket's versions of the key (an unversioned bucket has one, with id "null"). */
  async listVersions(key: string): Promise<ObjectVersion[]> {
    const objectKey = this.objectKey(key);
    const versions: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      let page: ListObjectVersionsCommandOutput;
      try {
        page = await this.client.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: objectKey, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
      } catch (error) {
        throw this.failure(error, 'list the versions of', objectKey, 's3:ListBucketVersions');
      }
      // The prefix also matches longer keys ("export.yaml.old"): only this key's versions count.
      for (const version of page.Versions ?? []) {
        if (version.Key !== objectKey) continue;
        versions.push({ versionId: version.VersionId ?? 'null', modified: version.LastModified ?? new Date(0), size: version.Size ?? 0, latest: version.IsLatest ?? false });
      }
      for (const marker of page.DeleteMarkers ?? []) {
        if (marker.Key !== objectKey) continue;
        versions.push({ versionId: marker.VersionId ?? 'null', modified: marker.LastModified ?? new Date(0), size: 0, latest: marker.IsLatest ?? false, deleted: true });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    // LastModified has whole seconds: the latest version goes first among equals.
    return versions.sort((a, b) => b.modified.getTime() - a.modified.getTime() || Number(b.latest) - Number(a.latest));
  }

  async getVersion(key: string, versionId: string): Promise<Readable | undefined> {
    const output = await this.getObject(key, versionId);
    if (output === undefined) return undefined;
    if (output.Body instanceof Readable) return output.Body;
    throw new Error(`Reading s3://${this.bucket}/${this.objectKey(key)} (version ${versionId}): the S3 client returned a body that is not a Node.js stream.`);
  }

  private async getObject(key: string, versionId?: string): Promise<GetObjectCommandOutput | undefined> {
    const objectKey = this.objectKey(key);
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...(versionId ? { VersionId: versionId } : {}) }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure(error, 'read', objectKey, versionId ? 's3:GetObjectVersion' : 's3:GetObject');
    }
  }

  /** Reads back what S3 stored: the size always, the whole-object CRC32 when S3 reports one. */
  private async confirm(objectKey: string, versionId: string | undefined, bytes: number, crc: number): Promise<void> {
    let head;
    try {
      head = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          ...(versionId ? { VersionId: versionId } : {}),
          ChecksumMode: 'ENABLED',
        }),
      );
    } catch (error) {
      throw this.failure(error, 'confirm the upload of', objectKey, 's3:GetObject');
    }
    const where = `s3://${this.bucket}/${objectKey}${versionId ? ` (version ${versionId})` : ''}`;
    const undo = versionId
      ? ` Delete that version (aws s3api delete-object --bucket ${this.bucket} --key ${objectKey} --version-id ${versionId}) so the previous one is current again, then retry.`
      : ' Retry the run; the bucket is not versioned, so the previous object is lost.';
    if (head.ContentLength !== bytes) {
      throw new Error(`The object written to ${where} is damaged: S3 reports ${head.ContentLength ?? 'no'} bytes but ${bytes} were sent.${undo}`);
    }
    // A multipart object's CRC32 is composite ("...-<parts>"), over the part checksums S3 already checked.
    const reported = head.ChecksumCRC32;
    if (reported && !reported.includes('-') && reported !== crc32Base64(crc)) {
      throw new Error(`The object written to ${where} is damaged: S3 reports CRC32 ${reported} but ${crc32Base64(crc)} was sent.${undo}`);
    }
  }

  private async abortUpload(objectKey: string, uploadId: string | undefined): Promise<void> {
    if (!uploadId) return;
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }));
    } catch (error) {
      if (errorName(error) === 'NoSuchUpload') return;
      // The put already failed with a better error; leftover parts are invisible and only cost storage.
      process.emitWarning(
        `Could not abort multipart upload ${uploadId} of s3://${this.bucket}/${objectKey} (${errorName(error)}: ${errorMessage(error)}). ` +
          'Its parts are not an object and stay billed until an AbortIncompleteMultipartUpload lifecycle rule removes them, or run: ' +
          `aws s3api abort-multipart-upload --bucket ${this.bucket} --key ${objectKey} --upload-id ${uploadId}`,
        { code: 'ARGOCD_DR_S3_ABORT_FAILED' },
      );
    }
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** An error that says what was attempted where, and what to change; never credentials. */
  private failure(error: unknown, verb: string, objectKey: string, action: string): Error {
    const name = errorName(error);
    const message = errorMessage(error);
    const status = httpStatus(error);
    const where = `s3://${this.bucket}/${objectKey}`;
    const requestId = (error as { $metadata?: { requestId?: string } } | undefined)?.$metadata?.requestId;
    const suffix = requestId ? ` (S3 request id ${requestId})` : '';
    const resource = action === 's3:ListBucket' || action === 's3:ListBucketVersions' ? `arn:aws:s3:::${this.bucket}` : `arn:aws:s3:::${this.bucket}/${objectKey}`;
    let text: string;
    if (name.startsWith('KMS.') || (name === 'AccessDenied' && /kms/i.test(message))) {
      text = `S3 could not use the KMS key to ${verb} ${where}: ${message}. Check that the key${this.kmsKeyId ? ` ${this.kmsKeyId}` : ''} exists, is enabled, and that its key policy lets this role use kms:GenerateDataKey and kms:Decrypt.`;
    } else if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'CredentialsProviderError'].includes(name)) {
      text = `Could not ${verb} ${where}: AWS rejected or could not find the credentials (${name}). Refresh them (aws sso login, AWS_PROFILE, or the role's session) and retry.`;
    } else if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
      text = `Access denied: could not ${verb} ${where}. Allow ${action} on ${resource}`;
      if (action === 's3:PutObject') text += ' (and s3:AbortMultipartUpload, to clean up failed uploads)';
      if (action === 's3:GetObject' || action === 's3:GetObjectVersion') text += ' (and s3:ListBucket on the bucket, without which S3 answers 403 instead of 404 for missing keys)';
      if (this.kmsKeyId) text += `, and kms:GenerateDataKey and kms:Decrypt on ${this.kmsKeyId}`;
      text += ` for the role running argocd-dr: ${message}`;
      // HEAD responses carry no error code, so a bad signature looks the same there.
      if (name === 'Forbidden') text += ' (or the credentials are wrong)';
    } else if (name === 'NoSuchBucket') {
      text = `Could not ${verb} ${where}: bucket ${this.bucket} does not exist. Check the store location (s3://bucket/prefix) and the region.`;
    } else if (/region is missing/i.test(message)) {
      text = `Could not ${verb} ${where}: no AWS region is configured. Set AWS_REGION (any region works; requests follow the bucket's region).`;
    } else {
      text = `Could not ${verb} ${where}: ${name}: ${message}`;
    }
    return new Error(text + suffix, { cause: error });
  }
}

/** A client for the environment: region and credentials from the usual chain. */
export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const customEndpoint = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  return new S3Client({
    // The backup functions know the vault's region: asking there first saves a redirect per request.
    ...(env.VAULT_REGION ? { region: env.VAULT_REGION } : {}),
    // s3rver and MinIO on host:port have no per-bucket host names.
    forcePathStyle: customEndpoint,
    // The vault bucket lives in the DR region, usually not the caller's.
    followRegionRedirects: true,
  });
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  // HeadObject has no body, so a missing bucket is also just "NotFound" there.
  return name === 'NoSuchKey' || name === 'NotFound' || (httpStatus(error) === 404 && name !== 'NoSuchBucket');
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}
