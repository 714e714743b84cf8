/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] } & Record<string, unknown>;
};

const SERVER_FIELDS = new Set(['metadata', 'status', 'operation', 'apiVersion', 'kind']);

/**
 * Cleans an object as `argocd admin export` does: name, namespace (only when outside the Argo CD
 * namespace, so an import can target another one), labels, annotations and finalizers; none of
 * the server's bookkeeping. `operation` is always dropped (an in-flight sync would resume after a
 * restore); `status` unless asked for. List items of built-in types arrive without kind and
 * apiVersion: the caller says what they are.
 */
export function cleanObject(object: KubeObject, type: { apiVersion: string; kind: string }, argoNamespace: string, keepStatus: boolean): KubeObject {
  const metadata = object.metadata ?? {};
  const cleaned: KubeObject['metadata'] & Record<string, unknown> = { name: metadata.name };
  if (metadata.namespace && metadata.namespace !== argoNamespace) cleaned.namespace = metadata.namespace;
  if (metadata.labels && Object.keys(metadata.labels).length > 0) cleaned.labels = metadata.labels;
  if (metadata.annotations && Object.keys(metadata.annotations).length > 0) cleaned.annotations = metadata.annotations;
  if (metadata.finalizers && metadata.finalizers.length > 0) cleaned.finalizers = metadata.finalizers;
  const out: KubeObject = { apiVersion: type.apiVersion, kind: type.kind, metadata: cleaned };
  for (const [key, value] of Object.entries(object)) {
    if (!SERVER_FIELDS.has(key) && value !== undefined && value !== null) out[key] = value;
  }
  if (keepStatus && object.status !== undefined) out.status = object.status;
  return out;
}

/** For CRDs: the definition as installed, without the server's bookkeeping or status. */
export function cleanDefinition(object: KubeObject): KubeObject {
  const metadata = object.metadata ?? {};
  const cleaned: Record<string, unknown> = { name: metadata.name };
  if (metadata.labels) cleaned.labels = metadata.labels;
  if (metadata.annotations) cleaned.annotations = metadata.annotations;
  return { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: cleaned, spec: object.spec };
}
