/**
 * The inventory of source repositories behind exported Applications and ApplicationSets (manifest.json): which Git
 * repositories to mirror, at which revisions and paths, used by which Applications, and which revisions were
 * actually deployed; Helm and OCI sources listed apart; what cannot be resolved at backup time reported, never
 * silently dropped. Works on plain objects as read from the API or parsed from YAML and never throws on odd shapes.
 */
import { gitUrlProblem, isHelmOciRepo, isTemplated, repoIdentity, repoKind } from './repo-url.js';

export interface GitSource {
  /** The repoURL as first written (Applications in input order, then ApplicationSets). */
  repoURL: string;
  /**
   * The repository's identity (`repoIdentity`): Argo CD's normalisation (`normalizeRepoUrl`), plus trailing slashes
   * and default ports removed and, for http(s), the user part. Every spelling in `repoURLs` has this identity.
   */
  normalizedURL: string;
  /** Every distinct spelling of the URL in use, sorted; match credentials per spelling as Argo CD would. */
  repoURLs: string[];
  /**
   * Revisions in use, sorted: targetRevision of sources ('' → 'HEAD'), git generator revisions, hydrator
   * drySource.targetRevision, syncSource.targetBranch and hydrateTo.targetBranch.
   */
  revisions: string[];
  /** Source paths and hydrator paths, plus git generator directory/file paths (globs such as `apps/*`), sorted. */
  paths: string[];
  /** "<namespace>/<name>" of Applications and "applicationset:<namespace>/<name>" of ApplicationSets, sorted. */
  applications: string[];
  /** Revisions recorded as deployed (status.sync, status.history, status.sourceHydrator) for this repo, sorted. */
  deployedRevisions: string[];
  /**
   * The same revisions per Application and source, sorted by application and field: restore readiness judges each
   * Application by what it deployed itself. Absent when deployedRevisions is empty, and in manifests written before
   * it existed (readers then fall back to deployedRevisions for every Application of the repo).
   */
  deployedBy?: DeployedBy[];
}

/** What one Application recorded as deployed from one of its sources in this repository. */
export interface DeployedBy {
  /** "<namespace>/<name>". */
  application: string;
  /** The source, as app-sources.ts names it: spec.source, spec.sources[i], spec.sourceHydrator.drySource / syncSource. */
  field: string;
  /** Sorted. */
  revisions: string[];
}

export interface NotMirroredSource {
  repoURL: string;
  kind: 'helm' | 'oci';
  reason: string;
  applications: string[];
}

export interface UnresolvedSource {
  repoURL: string;
  where: string;
  reason: string;
}

export interface SourceInventory {
  /** Sorted by normalizedURL. */
  git: GitSource[];
  /** Sorted by repoURL, then kind. */
  notMirrored: NotMirroredSource[];
  /** Sorted by where, repoURL, reason. */
  unresolved: UnresolvedSource[];
}

export interface InventoryOptions {
  /**
   * Namespace of objects without metadata.namespace: `argocd admin export`, and so argocd-dr's export, leaves the
   * namespace out for objects in the Argo CD namespace. Default "argocd".
   */
  defaultNamespace?: string;
}

/**
 * Builds the inventory. Application sources are taken as Argo CD uses them (ApplicationSpec.GetSources): the
 * sourceHydrator when set, else spec.sources when non-empty, else spec.source; a source Argo CD ignores is reported
 * in `unresolved`. ApplicationSet templates, generator templates and git generators (at any nesting of matrix and
 * merge) are included; templated revisions and paths of templates are skipped because the generated Applications,
 * exported alongside, carry the resolved values. Deployed revisions count only for repositories the Application
 * still uses.
 */
export function inventorySources(
  applications: readonly unknown[],
  applicationSets: readonly unknown[],
  options: InventoryOptions = {},
): SourceInventory {
  const builder = new InventoryBuilder(options.defaultNamespace ?? 'argocd');
  if (Array.isArray(applications)) for (const app of applications) builder.application(app);
  if (Array.isArray(applicationSets)) for (const appSet of applicationSets) builder.applicationSet(appSet);
  return builder.result();
}

// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown): Json {
  return isRecord(value) ? value : {};
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compare);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a source resolved to: a Git repository (by identity) or something not mirrored. */
type SourceRef = { kind: 'git'; key: string } | { kind: 'helm' | 'oci' } | undefined;

interface SourceOptions {
  owner: string;
  where: string;
  /** Where to report a templated repoURL, if not `where`. */
  templateWhere?: string;
  /** ApplicationSet template: templated revision and path are skipped silently. */
  template?: boolean;
  /** Revision to record when targetRevision is absent or empty; none when undefined. */
  defaultRevision?: string;
}

interface GitEntry {
  repoURL: string;
  spellings: Set<string>;
  revisions: Set<string>;
  paths: Set<string>;
  owners: Set<string>;
  deployed: Set<string>;
  /** Revisions by application, then field. */
  deployedBy: Map<string, Map<string, Set<string>>>;
}

interface NotMirroredEntry {
  repoURL: string;
  kind: 'helm' | 'oci';
  charts: Set<string>;
  owners: Set<string>;
}

const MAX_GENERATOR_DEPTH = 16;
const HYDRATOR_DRY = 'spec.sourceHydrator.drySource';
const HYDRATOR_SYNC = 'spec.sourceHydrator.syncSource';

class InventoryBuilder {
  private readonly git = new Map<string, GitEntry>();
  private readonly notMirrored = new Map<string, NotMirroredEntry>();
  private readonly unresolved = new Map<string, UnresolvedSource>();
  private readonly urls = new Map<string, { problem: string; key: '' } | { problem: undefined; key: string }>();

  constructor(private readonly defaultNamespace: string) {}

  result(): SourceInventory {
    const git = [...this.git.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([key, e]): GitSource => ({
        repoURL: e.repoURL,
        normalizedURL: key,
        repoURLs: sorted(e.spellings),
        revisions: sorted(e.revisions),
        paths: sorted(e.paths),
        applications: sorted(e.owners),
        deployedRevisions: sorted(e.deployed),
        ...(e.deployedBy.size > 0 ? { deployedBy: deployedByList(e.deployedBy) } : {}),
      }));
    const notMirrored = [...this.notMirrored.values()]
      .sort((a, b) => compare(a.repoURL, b.repoURL) || compare(a.kind, b.kind))
      .map((e): NotMirroredSource => ({
        repoURL: e.repoURL,
        kind: e.kind,
        reason: notMirroredReason(e),
        applications: sorted(e.owners),
      }));
    const unresolved = [...this.unresolved.values()]
      .sort((a, b) => compare(a.where, b.where) || compare(a.repoURL, b.repoURL) || compare(a.reason, b.reason));
    return { git, notMirrored, unresolved };
  }

  // --- Applications -------------------------------------------------------------------------------------------

  application(app: unknown): void {
    if (!isRecord(app)) return;
    const id = this.objectId(app);
    const where = `application ${id}`;
    const spec = record(app.spec);
    const hydrator = isRecord(spec.sourceHydrator) ? spec.sourceHydrator : undefined;
    const sources = Array.isArray(spec.sources) ? spec.sources : [];
    /** The sources Argo CD syncs from, in order: status revisions map onto these by index. */
    let effective: SourceRef[] = [];
    /** Their fields, index-aligned with `effective`. */
    let fields: string[] = [];
    /** The first field of each Git repository the Application uses: where a revision of it goes otherwise. */
    const appRepos = new Map<string, string>();
    const use = (ref: SourceRef, field: string): void => {
      if (ref?.kind === 'git' && !appRepos.has(ref.key)) appRepos.set(ref.key, field);
    };
    const hydratorRefs: { dry: SourceRef; sync: SourceRef } = { dry: undefined, sync: undefined };

    if (hydrator) {
      const refs = this.hydrator(hydrator, { owner: id, where: `${where} spec.sourceHydrator` });
      hydratorRefs.dry = refs.dry;
      hydratorRefs.sync = refs.sync;
      effective = [refs.sync];
      fields = [HYDRATOR_SYNC];
      use(refs.sync, HYDRATOR_SYNC);
      use(refs.dry, HYDRATOR_DRY);
      for (const ref of refs.all) use(ref, HYDRATOR_DRY);
      if (spec.source !== undefined) this.ignored(spec.source, `${where} spec.source`, 'spec.sourceHydrator is set');
      sources.forEach((s, i) => this.ignored(s, `${where} spec.sources[${i}]`, 'spec.sourceHydrator is set'));
    } else if (sources.length > 0) {
      fields = sources.map((_, i) => `spec.sources[${i}]`);
      effective = sources.map((s, i) => this.source(s, { owner: id, where: `${where} ${fields[i]}`, defaultRevision: 'HEAD' }));
      if (spec.source !== undefined) this.ignored(spec.source, `${where} spec.source`, 'spec.sources is not empty');
    } else if (spec.source !== undefined) {
      fields = ['spec.source'];
      effective = [this.source(spec.source, { owner: id, where: `${where} spec.source`, defaultRevision: 'HEAD' })];
    }
    effective.forEach((ref, i) => use(ref, fields[i]!));

    this.deployed(app, id, { refs: effective, fields }, appRepos, hydratorRefs);
  }

  /** A source Argo CD does not use because another field takes precedence (ApplicationSpec.GetSources). */
  private ignored(source: unknown, where: string, because: string): void {
    const repoURL = record(source).repoURL;
    if (repoURL === undefined) return;
    this.addUnresolved(describe(repoURL), where, `ignored by Argo CD because ${because}; not inventoried`);
  }

  /**
   * Revisions recorded as deployed, per repository and per Application and source. A revision goes to the current
   * source at its index when that is in the same repository (status records are index-aligned with spec.sources),
   * else to the Application's first source in that repository; Helm and OCI revisions (chart versions) go nowhere.
   */
  private deployed(
    app: Json,
    id: string,
    effective: { refs: SourceRef[]; fields: string[] },
    appRepos: Map<string, string>,
    hydrator: { dry: SourceRef; sync: SourceRef },
  ): void {
    const status = record(app.status);
    /** `at`: the index of the source in the status record, or the field itself. */
    const add = (ref: SourceRef, revision: unknown, at?: number | string): void => {
      if (ref?.kind !== 'git') return;
      const firstField = appRepos.get(ref.key);
      if (firstField === undefined) return;
      if (typeof revision !== 'string' || revision === '') return;
      const entry = this.git.get(ref.key);
      if (!entry) return;
      let field = typeof at === 'string' ? at : firstField;
      const current = typeof at === 'number' ? effective.refs[at] : undefined;
      if (current?.kind === 'git' && current.key === ref.key) field = effective.fields[at as number]!;
      entry.deployed.add(revision);
      const byField = entry.deployedBy.get(id) ?? new Map<string, Set<string>>();
      entry.deployedBy.set(id, byField);
      const revisions = byField.get(field) ?? new Set<string>();
      byField.set(field, revisions);
      revisions.add(revision);
    };
    /** Revisions of one status record against the sources it names, or the current ones by index. */
    const fromRecord = (rec: Json, single: unknown, multi: unknown): void => {
      if (Array.isArray(rec.revisions) && rec.revisions.length > 0) {
        const own = Array.isArray(multi) && multi.length > 0 ? multi.map((s) => this.classify(s)) : effective.refs;
        rec.revisions.forEach((revision, i) => add(own[i], revision, i));
      } else if (rec.revision !== undefined) {
        const ref = isRecord(single) ? this.classify(single) : effective.refs.length === 1 ? effective.refs[0] : undefined;
        add(ref, rec.revision, 0);
      }
    };
    const sync = record(status.sync);
    const comparedTo = record(sync.comparedTo);
    fromRecord(sync, comparedTo.source, comparedTo.sources);
    if (Array.isArray(status.history)) {
      for (const entry of status.history) {
        if (isRecord(entry)) fromRecord(entry, entry.source, entry.sources);
      }
    }
    const hydratorStatus = record(status.sourceHydrator);
    const operations = [record(hydratorStatus.lastSuccessfulOperation)];
    const current = record(hydratorStatus.currentOperation);
    if (current.phase === 'Hydrated') operations.push(current);
    for (const op of operations) {
      add(hydrator.dry, op.drySHA, HYDRATOR_DRY);
      add(hydrator.sync, op.hydratedSHA, 0);
    }
  }

  // --- ApplicationSets ----------------------------------------------------------------------------------------

  applicationSet(appSet: unknown): void {
    if (!isRecord(appSet)) return;
    const id = this.objectId(appSet);
    const owner = `applicationset:${id}`;
    const where = `applicationset ${id}`;
    const spec = record(appSet.spec);
    if (Array.isArray(spec.generators)) this.generators(spec.generators, owner, `${where} spec.generators`, 0, new Set());
    this.template(spec.template, owner, `${where} template`);
    if (typeof spec.templatePatch === 'string' && /repoURL|sources?\s*:|sourceHydrator/.test(spec.templatePatch)) {
      this.addUnresolved('', `${where} templatePatch`,
        'templatePatch can set sources when Applications are generated; the generated Applications carry the result');
    }
  }

  private generators(list: unknown[], owner: string, where: string, depth: number, seen: Set<unknown>): void {
    list.forEach((generator, i) => {
      if (!isRecord(generator) || seen.has(generator)) return;
      seen.add(generator);
      const at = `${where}[${i}]`;
      if (isRecord(generator.git)) this.gitGenerator(generator.git, owner, `${at}.git`);
      for (const combiner of ['matrix', 'merge'] as const) {
        const nested = record(generator[combiner]).generators;
        if (!Array.isArray(nested)) continue;
        if (depth + 1 >= MAX_GENERATOR_DEPTH) {
          this.addUnresolved('', `${at}.${combiner}`, `generators nested deeper than ${MAX_GENERATOR_DEPTH} levels were not inspected`);
        } else {
          this.generators(nested, owner, `${at}.${combiner}.generators`, depth + 1, seen);
        }
      }
      if (isRecord(generator.pullRequest)) {
        this.addUnresolved('', `${at}.pullRequest`,
          `pullRequest generator (${providerSummary(generator.pullRequest)}): Applications are generated per open pull request at runtime; their revisions are only known from the generated Applications`);
      }
      if (isRecord(generator.scmProvider)) {
        this.addUnresolved('', `${at}.scmProvider`,
          `scmProvider generator (${providerSummary(generator.scmProvider)}): repositories are discovered at runtime; only those of generated Applications are inventoried`);
      }
      for (const [type, body] of Object.entries(generator)) {
        if (isRecord(body) && isRecord(body.template)) this.template(body.template, owner, `${at}.${type}.template`);
      }
    });
  }

  private gitGenerator(git: Json, owner: string, where: string): void {
    const repoURL = git.repoURL;
    if (repoURL === undefined) return;
    const key = this.gitRepo(repoURL, { owner, where });
    if (key === undefined) return;
    const entry = this.git.get(key);
    if (!entry) return;
    const templated: string[] = [];
    const revision = git.revision;
    if (revision === undefined || revision === '') entry.revisions.add('HEAD');
    else if (typeof revision !== 'string') this.addUnresolved(describe(repoURL), where, `revision ${describe(revision)} is not a string`);
    else if (isTemplated(revision)) templated.push(`revision ${revision}`);
    else entry.revisions.add(revision);
    for (const field of ['directories', 'files'] as const) {
      const items = git[field];
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        const itemRecord = record(item);
        if (itemRecord.exclude === true) continue;
        const path = nonEmptyString(itemRecord.path);
        if (path === undefined) continue;
        if (isTemplated(path)) templated.push(`${field} path ${path}`);
        else entry.paths.add(path);
      }
    }
    if (templated.length > 0) {
      this.addUnresolved(describe(repoURL), where,
        `git generator uses values only known when it runs: ${templated.join(', ')}`);
    }
  }

  /** An Application template (spec.template, or a generator's template override). */
  private template(template: unknown, owner: string, where: string): void {
    const spec = record(record(template).spec);
    const options = { owner, where, templateWhere: where, template: true, defaultRevision: 'HEAD' };
    if (spec.source !== undefined) this.source(spec.source, options);
    if (Array.isArray(spec.sources)) for (const s of spec.sources) this.source(s, options);
    if (isRecord(spec.sourceHydrator)) this.hydrator(spec.sourceHydrator, { owner, where, templateWhere: where, template: true });
  }

  // --- Sources ------------------------------------------------------------------------------------------------

  /** Records one ApplicationSource-shaped object; returns what it resolved to. */
  private source(source: unknown, options: SourceOptions): SourceRef {
    if (!isRecord(source) || source.repoURL === undefined) return undefined;
    const repoURL = source.repoURL;
    if (typeof repoURL === 'string' && repoURL.trim() !== '' && !isTemplated(repoURL)) {
      const kind = repoKind(source);
      if (kind !== 'git') {
        this.addNotMirrored(repoURL, kind, options.owner, nonEmptyString(source.chart));
        return { kind };
      }
    }
    const key = this.gitRepo(repoURL, options);
    if (key === undefined) return undefined;
    this.revisionAndPath(key, source.targetRevision, source.path, options);
    return { kind: 'git', key };
  }

  /**
   * spec.sourceHydrator: the dry source, and the sync source in syncSource.repoURL or, when that is not set, in the
   * dry source's repository (SourceHydrator.GetSyncSource); hydrateTo.targetBranch lives in the sync repository.
   */
  private hydrator(hydrator: Json, options: SourceOptions): { dry: SourceRef; sync: SourceRef; all: SourceRef[] } {
    const drySource = record(hydrator.drySource);
    const dry = this.source(drySource, { ...options, where: `${options.where} drySource`, defaultRevision: 'HEAD' });
    const all: SourceRef[] = [dry];
    if (Array.isArray(hydrator.drySources)) {
      // Proposed multi-source hydration (drySources[]); harmless where it does not exist.
      hydrator.drySources.forEach((s, i) => all.push(this.source(s, { ...options, where: `${options.where} drySources[${i}]`, defaultRevision: 'HEAD' })));
    }
    const syncSource = record(hydrator.syncSource);
    const firstDry = all.find((ref) => ref !== undefined);
    let sync: SourceRef;
    if (syncSource.repoURL !== undefined && syncSource.repoURL !== '') {
      sync = this.source({ repoURL: syncSource.repoURL, targetRevision: syncSource.targetBranch, path: syncSource.path },
        { ...options, where: `${options.where} syncSource`, defaultRevision: undefined });
    } else {
      sync = firstDry;
      if (sync?.kind === 'git') {
        this.revisionAndPath(sync.key, syncSource.targetBranch, syncSource.path, { ...options, where: `${options.where} syncSource`, defaultRevision: undefined });
      }
    }
    if (sync?.kind === 'git' && isRecord(hydrator.hydrateTo)) {
      this.revisionAndPath(sync.key, hydrator.hydrateTo.targetBranch, undefined, { ...options, where: `${options.where} hydrateTo`, defaultRevision: undefined });
    }
    all.push(sync);
    return { dry, sync, all };
  }

  /** Validates a Git repoURL and records the repository for the owner; returns its identity, or undefined. */
  private gitRepo(repoURL: unknown, options: SourceOptions): string | undefined {
    if (typeof repoURL !== 'string') {
      this.addUnresolved(describe(repoURL), options.where, 'repoURL is not a string');
      return undefined;
    }
    if (isTemplated(repoURL)) {
      this.addUnresolved(repoURL, options.templateWhere ?? options.where,
        'templated repoURL: the repository is only known when the ApplicationSet generates Applications');
      return undefined;
    }
    const { problem, key } = this.gitUrl(repoURL);
    if (problem !== undefined) {
      this.addUnresolved(repoURL, options.where, problem);
      return undefined;
    }
    let entry = this.git.get(key);
    if (!entry) {
      entry = { repoURL, spellings: new Set(), revisions: new Set(), paths: new Set(), owners: new Set(), deployed: new Set(), deployedBy: new Map() };
      this.git.set(key, entry);
    }
    entry.spellings.add(repoURL);
    entry.owners.add(options.owner);
    return key;
  }

  private revisionAndPath(key: string, revision: unknown, path: unknown, options: SourceOptions): void {
    const entry = this.git.get(key);
    if (!entry) return;
    if (revision === undefined || revision === '') {
      if (options.defaultRevision !== undefined) entry.revisions.add(options.defaultRevision);
    } else if (typeof revision !== 'string') {
      this.addUnresolved(entry.repoURL, options.where, `revision ${describe(revision)} is not a string`);
    } else if (isTemplated(revision)) {
      if (!options.template) this.addUnresolved(entry.repoURL, options.where, `templated revision ${revision}`);
    } else {
      entry.revisions.add(revision);
    }
    if (typeof path === 'string' && path !== '') {
      if (!isTemplated(path)) entry.paths.add(path);
      else if (!options.template) this.addUnresolved(entry.repoURL, options.where, `templated path ${path}`);
    }
  }

  /** Resolves a source without recording anything (for status records). */
  private classify(source: unknown): SourceRef {
    const repoURL = record(source).repoURL;
    if (typeof repoURL !== 'string' || isTemplated(repoURL)) return undefined;
    const kind = repoKind(source);
    if (kind !== 'git') return { kind };
    const { problem, key } = this.gitUrl(repoURL);
    return problem === undefined ? { kind: 'git', key } : undefined;
  }

  /** gitUrlProblem and repoIdentity of a Git repoURL, remembered: status history repeats the same few URLs. */
  private gitUrl(repoURL: string): { problem: string; key: '' } | { problem: undefined; key: string } {
    let known = this.urls.get(repoURL);
    if (!known) {
      const problem = gitUrlProblem(repoURL);
      const key = problem === undefined ? repoIdentity(repoURL) : '';
      known = problem !== undefined || key === ''
        ? { problem: problem ?? 'repoURL is not a valid URL', key: '' }
        : { problem: undefined, key };
      this.urls.set(repoURL, known);
    }
    return known;
  }

  private addNotMirrored(repoURL: string, kind: 'helm' | 'oci', owner: string, chart: string | undefined): void {
    const id = `${kind}\u0000${repoURL}`;
    let entry = this.notMirrored.get(id);
    if (!entry) {
      entry = { repoURL, kind, charts: new Set(), owners: new Set() };
      this.notMirrored.set(id, entry);
    }
    entry.owners.add(owner);
    if (chart !== undefined && !isTemplated(chart)) entry.charts.add(chart);
  }

  private addUnresolved(repoURL: string, where: string, reason: string): void {
    const entry = { repoURL, where, reason };
    this.unresolved.set(JSON.stringify([where, repoURL, reason]), entry);
  }

  private objectId(object: Json): string {
    const metadata = record(object.metadata);
    const namespace = nonEmptyString(metadata.namespace) ?? this.defaultNamespace;
    const name = nonEmptyString(metadata.name) ?? '(unnamed)';
    return `${namespace}/${name}`;
  }
}

function deployedByList(byApplication: Map<string, Map<string, Set<string>>>): DeployedBy[] {
  return [...byApplication.entries()]
    .flatMap(([application, byField]) => [...byField.entries()].map(([field, revisions]) => ({ application, field, revisions: sorted(revisions) })))
    .sort((a, b) => compare(a.application, b.application) || compare(a.field, b.field));
}

function notMirroredReason(entry: NotMirroredEntry): string {
  const charts = sorted(entry.charts);
  const chartText = charts.length > 0 ? ` (chart${charts.length > 1 ? 's' : ''} ${charts.join(', ')})` : '';
  if (entry.kind === 'oci') {
    return 'OCI artifact (oci:// repoURL): pulled from a container registry, not Git; argocd-dr does not mirror registries';
  }
  if (isHelmOciRepo(entry.repoURL)) {
    return `Helm chart from an OCI registry${chartText} (repoURL without a scheme): not Git; argocd-dr does not mirror registries`;
  }
  return `Helm chart repository${chartText}: charts are not Git; argocd-dr does not mirror Helm repositories`;
}

/** A short description of a pullRequest / scmProvider generator's provider, without tokens or secret names. */
function providerSummary(generator: Json): string {
  for (const [provider, config] of Object.entries(generator)) {
    if (!isRecord(config)) continue;
    const parts = ['owner', 'organization', 'group', 'project', 'workspace', 'repo']
      .map((field) => nonEmptyString(config[field]))
      .filter((value): value is string => value !== undefined);
    const api = nonEmptyString(config.api);
    return [provider, parts.join('/'), api === undefined ? '' : `at ${api}`].filter((s) => s !== '').join(' ');
  }
  return 'no provider configured';
}
