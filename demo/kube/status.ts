/** details of a meta/v1 Status: group is omitted for the core group, kind is the resource (plural), as the real server sends. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  retryAfterSeconds?: number;
}

/** A meta/v1 Status error with its HTTP code. */
export interface StatusError {
  code: number;
  body: Record<string, unknown>;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The reason kube-apiserver gives for an HTTP code ('' when it has none). */
export function reasonFor(code: number): string {
  return REASONS[code] ?? '';
}

/** A Failure Status in the real server's field order; details is left out when undefined. */
export function failure(code: number, message: string, reason = reasonFor(code), details?: StatusDetails): StatusError {
  const body: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message };
  if (reason) body.reason = reason;
  if (details) body.details = details;
  body.code = code;
  return { code, body };
}

/** "configmaps" or "applications.argoproj.io": how Kubernetes names a group-qualified resource in messages. */
export function qualifiedResource(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

function details(resource: string, group: string, name?: string): StatusDetails {
  const result: StatusDetails = {};
  if (name) result.name = name;
  if (group) result.group = group;
  result.kind = resource;
  return result;
}

export const unauthorized = (): StatusError => failure(401, 'Unauthorized');

export const pathNotFound = (): StatusError => failure(404, 'the server could not find the requested resource', 'NotFound', {});

export function objectNotFound(resource: string, group: string, name: string): StatusError {
  return failure(404, `${qualifiedResource(resource, group)} "${name}" not found`, 'NotFound', details(resource, group, name));
}

export function alreadyExists(resource: string, group: string, name: string): StatusError {
  return failure(409, `${qualifiedResource(resource, group)} "${name}" already exists`, 'AlreadyExists', details(resource, group, name));
}

export function forbidden(resource: string, group: string, name: string, reason: string): StatusError {
  const subject = name ? `${qualifiedResource(resource, group)} "${name}"` : qualifiedResource(resource, group);
  return failure(403, `${subject} is forbidden: ${reason}`, 'Forbidden', details(resource, group, name));
}

/** 403 for a non-resource path such as /metrics. */
export function forbiddenPath(reason: string): StatusError {
  return failure(403, `forbidden: ${reason}`, 'Forbidden', {});
}

export const EXPIRED_MESSAGE = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export const expired = (): StatusError => failure(410, EXPIRED_MESSAGE, 'Expired');

export const badRequest = (message: string): StatusError => failure(400, message, 'BadRequest');

/** Success Status a DELETE answers with. */
export function deleted(resource: string, group: string, name: string, uid: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...details(resource, group, name), uid } };
}
