/** Metadata of a Kubernetes object; only name is required, as in a manifest. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** Any Kubernetes object as JSON: a manifest before it is stored, or what the API server returns. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Names one object: apiVersion's group decides the collection, the version does not matter. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** An authenticated caller, as kube-apiserver's authenticators describe one. */
export interface Identity {
  user: string;
  groups: string[];
}

/** The API group of an apiVersion: '' for the core group (v1). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
