import type { KubeObject } from '../argocd/clean.js';
import { normalizeRepoUrl, sshUser } from '../argocd/repo-url.js';
import { redactUserInfo } from '../git/repo-url.js';

/** One `--map-repo OLD=NEW` or `--map-cluster OLD=NEW`. */
export interface Mapping {
  from: string;
  to: string;
}

/** One rewritten value, for the report (URLs without user info). */
export interface RemapChange {
  object: string;
  field: string;
  from: string;
  to: string;
}

export class MappingError extends Error {}

export function parseMapping(flag: string, value: string): Mapping {
  const equals = value.indexOf('=');
  const from = equals < 0 ? '' : value.slice(0, equals).trim();
  const to = equals < 0 ? '' : value.slice(equals + 1).trim();
  if (!from || !to) throw new MappingError(`${flag} "${value}" must be OLD=NEW, e.g. ${flag} https://github.com/org=https://git.example.com/org`);
  return { from, to };
}

const REPO_SECRET_TYPES = new Set(['repository', 'repo-creds', 'repo-write', 'repo-write-creds']);
const SECRET_TYPE = 'argocd.argoproj.io/secret-type';

/**
 * Rewrites repository URLs (every `repoURL` in Applications and ApplicationSets, templates
 * included, and any URL under a mapping in ApplicationSet generators; AppProject sourceRepos; the url of repository and repo-creds Secrets) and
 * destination servers (Application and ApplicationSet destinations, AppProject destinations, the
 * server of cluster Secrets; a server in ApplicationSet generators). Returns new objects; the input is not changed.
 */
export function remapObjects(objects: readonly KubeObject[], repoMaps: readonly Mapping[], clusterMaps: readonly Mapping[], argoNamespace = 'argocd'): { objects: KubeObject[]; changes: RemapChange[]; unused: string[] } {
  const changes: RemapChange[] = [];
  // The most specific mapping wins (a repository's own over its organisation's), whatever the order given.
  const longestFirst = (maps: readonly Mapping[]) => [...maps].sort((a, b) => b.from.length - a.from.length);
  const used = new Set<Mapping>();
  const repo = (value: string, where: string, field: string): string => rewrite(value, repoMaps, mapRepoUrl, where, field);
  const cluster = (value: string, where: string, field: string): string => rewrite(value, clusterMaps, mapServer, where, field);

  function rewrite(value: string, maps: readonly Mapping[], map: (value: string, mapping: Mapping) => string | undefined, where: string, field: string): string {
    // An AppProject denies with a leading '!': the URL after it is mapped, the denial kept.
    if (value.startsWith('!')) {
      const mapped = rewrite(value.slice(1), maps, map, where, field);
      return mapped === value.slice(1) ? value : `!${mapped}`;
    }
    for (const mapping of longestFirst(maps)) {
      const mapped = map(value, mapping);
      if (mapped === undefined) continue;
      used.add(mapping);
      if (mapped !== value) changes.push({ object: where, field, from: redactUserInfo(value), to: redactUserInfo(mapped) });
      return mapped;
    }
    return value;
  }

  const result = objects.map((original) => {
    if (repoMaps.length === 0 && clusterMaps.length === 0) return original;
    const object = structuredClone(original);
    const where = `${object.kind} ${object.metadata?.namespace ?? argoNamespace}/${object.metadata?.name}`;
    switch (object.kind) {
      case 'Application':
      case 'ApplicationSet':
        walk(object.spec, 'spec', (parent, key, path) => {
          const value = parent[key];
          if (typeof value !== 'string') return;
          // Generators also carry repositories as parameters (a list element's url that a template uses as its repoURL).
          if (key === 'repoURL' || path.startsWith('spec.generators')) parent[key] = repo(value, where, path);
          // A destination names its cluster by server URL (or by name, which needs no rewrite); generators carry
          // them as parameters too (a list element's url that the template uses as its server).
          if ((key === 'server' && /\.destination\.server$/.test(path)) || path.startsWith('spec.generators')) parent[key] = cluster(parent[key] as string, where, path);
        });
        break;
      case 'AppProject': {
        const spec = (object.spec ?? {}) as { sourceRepos?: unknown[]; destinations?: { server?: unknown }[]; destinationServiceAccounts?: { server?: unknown }[] };
        if (spec.sourceRepos) spec.sourceRepos = spec.sourceRepos.map((value, i) => (typeof value === 'string' ? repo(value, where, `spec.sourceRepos[${i}]`) : value));
        for (const list of ['destinations', 'destinationServiceAccounts'] as const) {
          for (const [i, destination] of (spec[list] ?? []).entries()) {
            if (typeof destination.server === 'string') destination.server = cluster(destination.server, where, `spec.${list}[${i}].server`);
          }
        }
        break;
      }
      case 'Secret': {
        const type = object.metadata?.labels?.[SECRET_TYPE] ?? '';
        const field = REPO_SECRET_TYPES.has(type) ? 'url' : type === 'cluster' ? 'server' : undefined;
        if (!field) break;
        const map = field === 'url' ? repo : cluster;
        const data = object.data as Record<string, string> | undefined;
        if (data?.[field] !== undefined) {
          const value = Buffer.from(data[field], 'base64').toString('utf8');
          const mapped = map(value, where, `data.${field}`);
          if (mapped !== value) data[field] = Buffer.from(mapped, 'utf8').toString('base64');
        }
        const stringData = object.stringData as Record<string, string> | undefined;
        if (typeof stringData?.[field] === 'string') stringData[field] = map(stringData[field], where, `stringData.${field}`);
        break;
      }
    }
    return object;
  });
  const unused = [...repoMaps.filter((m) => !used.has(m)).map((m) => `--map-repo ${redactUserInfo(m.from)}`), ...clusterMaps.filter((m) => !used.has(m)).map((m) => `--map-cluster ${m.from}`)];
  return { objects: result, changes, unused };
}

/**
 * A repository URL under a mapping, compared as Argo CD compares them (its normalised form: case,
 * ".git", scp-style and ssh:// spellings): the URL itself, or one below it at a path boundary, so
 * `https://github.com/org=https://git.example.com/org` moves every repo of the organisation (and
 * repo-creds and sourceRepos globs for the prefix). What lies below the prefix is kept as written.
 */
export function mapRepoUrl(url: string, mapping: Mapping): string | undefined {
  const comparable = (text: string) => (normalizeRepoUrl(text) || text.trim().toLowerCase()).replace(/\/+$/, '');
  const value = comparable(url);
  const from = comparable(mapping.from);
  if (value === from) return mapping.to;
  if (!value.startsWith(`${from}/`)) return undefined;
  // The segments below the prefix, taken from the URL as written (its case, a glob's '*', its ".git").
  const below = value.slice(from.length + 1).split('/').length;
  let written = url.trim().replace(/\/+$/, '');
  const suffix = /\.git$/i.test(written) ? written.slice(-4) : '';
  written = written.slice(0, written.length - suffix.length);
  if (sshUser(written) !== undefined && !written.startsWith('ssh://')) written = written.replace(':', '/');
  const tail = written.split('/').slice(-below).join('/');
  const to = mapping.to.replace(/\/+$/, '');
  return `${to}${to.endsWith(':') ? '' : '/'}${tail}${suffix}`;
}

/** A cluster's API server URL, compared without a trailing '/'. */
export function mapServer(server: string, mapping: Mapping): string | undefined {
  return server.replace(/\/+$/, '') === mapping.from.replace(/\/+$/, '') ? mapping.to : undefined;
}

function walk(value: unknown, path: string, visit: (parent: Record<string, unknown>, key: string, path: string) => void): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${path}[${i}]`, visit));
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      visit(record, key, `${path}.${key}`);
      walk(record[key], `${path}.${key}`, visit);
    }
  }
}
