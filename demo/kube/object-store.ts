import { randomUUID } from 'node:crypto';
import { groupOf, type KubeObject, type ObjectMeta } from './kube-object.js';
import { matchesLabels, type LabelRequirement } from './label-selector.js';

/** How a write changed the store, for managedFields. */
export interface WriteInfo {
  manager: string;
  operation: 'Update' | 'Apply';
  /** Marks the object as being deleted (a DELETE of an object with finalizers). */
  deletionTimestamp?: string;
}

interface Entry {
  key: string;
  object: KubeObject;
  /** The object as JSON, as get returns it. */
  json: string;
  /** The same without kind and apiVersion, as items of a built-in type's list carry it. */
  itemJson?: string;
}

interface Collection {
  entries: Map<string, Entry>;
  /** Keys in etcd order (namespace/name), rebuilt lazily after an insert or delete. */
  sorted?: string[];
}

/** Where a list continues, as the real server's continue token carries it. */
export interface ContinuePosition {
  /** Resource version of the list's first page: every page reports it. */
  rv: number;
  /** First key to look at. */
  start: string;
}

export interface PageRequest {
  /** Only objects of this namespace; undefined lists across all namespaces (or a cluster-scoped kind). */
  namespace?: string;
  limit?: number;
  from?: ContinuePosition;
  selector: readonly LabelRequirement[];
  /** Items without kind and apiVersion, as the real server lists built-in types. */
  bare: boolean;
}

export interface Page {
  /** Items already serialized, ready to be joined into the list body. */
  items: string[];
  rv: number;
  next?: ContinuePosition;
  remainingItemCount?: number;
}

// Fields the server owns: what a caller puts in them is replaced.
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'];
// kube-apiserver's order of metadata fields, so stored objects read like real ones.
const METADATA_ORDER = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'];

/** Objects kept the way kube-apiserver keeps them in etcd: one global resource version, keys ordered by namespace and name. */
export class ObjectStore {
  private readonly collections = new Map<string, Collection>();
  private revision = 1000;
  /** Continue tokens from before this revision answer 410, as after an etcd compaction. */
  compactedRevision = 0;
  /** Bumped whenever a CustomResourceDefinition changes, so the served types can be cached. */
  crdGeneration = 0;

  constructor(private readonly now: () => Date) {}

  get resourceVersion(): number {
    return this.revision;
  }

  /** Stores a copy of the object with server metadata; replaces an existing one of the same group, kind, namespace and name. */
  put(input: KubeObject, write: WriteInfo = { manager: 'kubectl-client-side-apply', operation: 'Update' }): { object: KubeObject; created: boolean } {
    if (!input.metadata?.name) throw new Error(`${input.kind} without metadata.name`);
    // Shallow copies suffice here: only top-level fields and metadata are replaced, never edited in place.
    const object: KubeObject = { ...input, metadata: { ...input.metadata } };
    const group = groupOf(object.apiVersion);
    const collection = this.collection(group, object.kind, true);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const previous = collection.entries.get(key)?.object;
    normalizeKind(object);
    const time = timestamp(this.now());
    const meta: ObjectMeta = { ...object.metadata };
    for (const field of SERVER_FIELDS) delete meta[field];
    meta.uid = (previous?.metadata.uid as string | undefined) ?? randomUUID();
    meta.resourceVersion = String(++this.revision);
    // Core v1 kinds (ConfigMap, Secret, Namespace) have no generation; other kinds count spec changes.
    if (group !== '') {
      const previousGeneration = (previous?.metadata.generation as number | undefined) ?? 0;
      meta.generation = previous && sameSpec(previous, object) ? previousGeneration : previousGeneration + 1;
    }
    meta.creationTimestamp = (previous?.metadata.creationTimestamp as string | undefined) ?? time;
    // Once a delete was asked for, no write takes it back.
    const deletion = (previous?.metadata.deletionTimestamp as string | undefined) ?? write.deletionTimestamp;
    if (deletion) {
      meta.deletionTimestamp = deletion;
      meta.deletionGracePeriodSeconds = 0;
    }
    meta.managedFields = [{
      manager: write.manager,
      operation: write.operation,
      apiVersion: object.apiVersion,
      time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsOf(object),
    }];
    // Serialized once here: the JSON is both the deep copy (nothing shared with the caller) and what lists send.
    const json = JSON.stringify(ordered(object, meta));
    const stored = JSON.parse(json) as KubeObject;
    if (!collection.entries.has(key)) collection.sorted = undefined;
    collection.entries.set(key, { key, object: stored, json });
    if (isCrd(group, object.kind)) this.crdGeneration++;
    return { object: stored, created: previous === undefined };
  }

  get(group: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.collection(group, kind, false)?.entries.get(keyOf(namespace, name))?.object;
  }

  remove(group: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const collection = this.collection(group, kind, false);
    const key = keyOf(namespace, name);
    const entry = collection?.entries.get(key);
    if (!collection || !entry) return undefined;
    collection.entries.delete(key);
    collection.sorted = undefined;
    // A delete is a write too: it moves the resource version on.
    this.revision++;
    if (isCrd(group, kind)) this.crdGeneration++;
    return entry.object;
  }

  /**
   * A delete as kube-apiserver does it: an object with finalizers only gets a deletionTimestamp
   * and stays until its finalizers are removed (see finishDeletion); any other is removed now.
   */
  delete(group: string, kind: string, namespace: string | undefined, name: string): { object: KubeObject; removed: boolean } | undefined {
    const object = this.get(group, kind, namespace, name);
    if (!object) return undefined;
    if (((object.metadata.finalizers as string[] | undefined) ?? []).length === 0) return { object: this.remove(group, kind, namespace, name)!, removed: true };
    if (object.metadata.deletionTimestamp) return { object, removed: false };
    const stored = this.put(object, { manager: 'kube-apiserver', operation: 'Update', deletionTimestamp: timestamp(this.now()) }).object;
    return { object: stored, removed: false };
  }

  /** Removes an object that is being deleted once its last finalizer is gone; true if removed. */
  finishDeletion(group: string, kind: string, namespace: string | undefined, name: string): boolean {
    const object = this.get(group, kind, namespace, name);
    if (!object?.metadata.deletionTimestamp || ((object.metadata.finalizers as string[] | undefined) ?? []).length > 0) return false;
    this.remove(group, kind, namespace, name);
    return true;
  }

  /** Every stored object of a group and kind, in key order (the stored objects themselves: do not modify). */
  all(group: string, kind: string): KubeObject[] {
    const collection = this.collection(group, kind, false);
    if (!collection) return [];
    return sortedKeys(collection).map((key) => collection.entries.get(key)!.object);
  }

  /** The object as the server sends it on get. */
  json(group: string, kind: string, namespace: string | undefined, name: string): string | undefined {
    const entry = this.collection(group, kind, false)?.entries.get(keyOf(namespace, name));
    return entry ? serialized(entry, false) : undefined;
  }

  /**
   * One page of a list. It walks the sorted keys from the continue position, so a page costs its own
   * size (plus the objects a selector skips), never a copy of the collection.
   */
  page(group: string, kind: string, request: PageRequest): Page {
    const rv = request.from?.rv ?? this.revision;
    const collection = this.collection(group, kind, false);
    if (!collection) return { items: [], rv };
    const keys = sortedKeys(collection);
    // A namespace's keys are contiguous: "<ns>/" up to "<ns>0" ('0' follows '/').
    let begin = request.namespace === undefined ? 0 : lowerBound(keys, `${request.namespace}/`);
    const end = request.namespace === undefined ? keys.length : lowerBound(keys, `${request.namespace}0`);
    if (request.from) begin = Math.max(begin, lowerBound(keys, request.from.start));
    const limit = request.limit && request.limit > 0 ? request.limit : Infinity;
    const items: string[] = [];
    let index = begin;
    for (; index < end && items.length < limit; index++) {
      const entry = collection.entries.get(keys[index]!)!;
      if (request.selector.length > 0 && !matchesLabels(request.selector, entry.object.metadata.labels)) continue;
      items.push(serialized(entry, request.bare));
    }
    if (index >= end) return { items, rv };
    // Like the etcd3 store: more keys remain, so a continue token follows even if none of them matches the selector.
    const page: Page = { items, rv, next: { rv, start: `${keys[index - 1]}\u0000` } };
    if (request.selector.length === 0) page.remainingItemCount = end - index;
    return page;
  }

  private collection(group: string, kind: string, create: true): Collection;
  private collection(group: string, kind: string, create: false): Collection | undefined;
  private collection(group: string, kind: string, create: boolean): Collection | undefined {
    const name = `${group}|${kind}`;
    let collection = this.collections.get(name);
    if (!collection && create) {
      collection = { entries: new Map() };
      this.collections.set(name, collection);
    }
    return collection;
  }
}

/** kube-apiserver's timestamp format: RFC 3339 in UTC, whole seconds. */
export function timestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function isCrd(group: string, kind: string): boolean {
  return group === 'apiextensions.k8s.io' && kind === 'CustomResourceDefinition';
}

function sortedKeys(collection: Collection): string[] {
  collection.sorted ??= [...collection.entries.keys()].sort();
  return collection.sorted;
}

function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (keys[mid]! < key) low = mid + 1;
    else high = mid;
  }
  return low;
}

function serialized(entry: Entry, bare: boolean): string {
  if (bare) {
    if (entry.itemJson === undefined) {
      const { kind: _kind, apiVersion: _apiVersion, ...rest } = entry.object;
      entry.itemJson = JSON.stringify(rest);
    }
    return entry.itemJson;
  }
  return entry.json;
}

// What the API server itself fills in or converts for built-in kinds.
function normalizeKind(object: KubeObject): void {
  if (object.apiVersion === 'v1' && object.kind === 'Secret') {
    const stringData = object.stringData as Record<string, string> | undefined;
    if (stringData) {
      const data = { ...(object.data as Record<string, string> | undefined) };
      for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(value, 'utf8').toString('base64');
      object.data = data;
      delete object.stringData;
    }
    object.type ??= 'Opaque';
  }
  if (object.apiVersion === 'v1' && object.kind === 'Namespace') {
    object.metadata.labels = { ...object.metadata.labels, 'kubernetes.io/metadata.name': object.metadata.name };
    object.spec ??= { finalizers: ['kubernetes'] };
    object.status ??= { phase: 'Active' };
  }
}

function sameSpec(previous: KubeObject, next: KubeObject): boolean {
  // Status and metadata changes do not move generation; any other field does.
  const strip = ({ metadata: _metadata, status: _status, ...rest }: KubeObject) => JSON.stringify(rest);
  return strip(previous) === strip(next);
}

function ordered(object: KubeObject, meta: ObjectMeta): KubeObject {
  const metadata: Record<string, unknown> = {};
  for (const field of METADATA_ORDER) if (meta[field] !== undefined) metadata[field] = meta[field];
  for (const [field, value] of Object.entries(meta)) if (!(field in metadata) && value !== undefined) metadata[field] = value;
  const { kind, apiVersion, metadata: _old, ...rest } = object;
  return { kind, apiVersion, metadata: metadata as ObjectMeta, ...rest } as KubeObject;
}

// A FieldsV1 set in the shape the server writes ("f:<field>" per map key), cut two levels down to keep 10,000 objects light.
function fieldsOf(object: KubeObject): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const field of ['labels', 'annotations']) {
    const value = object.metadata[field];
    if (value && typeof value === 'object') meta[`f:${field}`] = fieldSet(value as Record<string, unknown>, 0, { '.': {} });
  }
  if (Array.isArray(object.metadata.finalizers)) {
    const finalizers: Record<string, unknown> = { '.': {} };
    for (const finalizer of object.metadata.finalizers as string[]) finalizers[`v:${JSON.stringify(finalizer)}`] = {};
    meta['f:finalizers'] = finalizers;
  }
  if (Object.keys(meta).length > 0) set['f:metadata'] = meta;
  for (const key in object) {
    if (key !== 'kind' && key !== 'apiVersion' && key !== 'metadata') set[`f:${key}`] = fieldValue(object[key], 1);
  }
  return set;
}

function fieldValue(value: unknown, depth: number): Record<string, unknown> {
  return depth > 0 && value !== null && typeof value === 'object' && !Array.isArray(value) ? fieldSet(value as Record<string, unknown>, depth - 1, { '.': {} }) : {};
}

function fieldSet(value: Record<string, unknown>, depth: number, into: Record<string, unknown>): Record<string, unknown> {
  for (const key in value) into[`f:${key}`] = fieldValue(value[key], depth);
  return into;
}
