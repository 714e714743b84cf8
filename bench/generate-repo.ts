// Deterministic generator of a big, realistic Git repository for the benchmarks: plan a history, stream it into git fast-import, repack once.
// Content comes only from integer PRNG streams and fixed size constants (no zlib measurements), so the same options give the same commit ids anywhere.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatBytes, formatTable, packInfo, runChecked } from './support.js';

/** Bump whenever the generated history changes, so cached repositories are regenerated. */
export const GENERATOR_VERSION = 1;

export interface GenerateOptions {
  /** Where the bare repository is created; must not exist or be empty. */
  dir: string;
  /** Wanted size of the final .pack; the size model usually lands within a few percent. */
  targetPackBytes: number;
  /** Minimum number of objects; history stops at the first commit that reaches it. */
  targetObjects: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface GeneratedRepo {
  dir: string;
  packBytes: number;
  objects: number;
  /** Wall time of the whole generation, fast-import and repack included. */
  seconds: number;
}

const MiB = 1024 * 1024;

/** The two repositories the benchmarks use. */
export const BENCH_REPOS = {
  small: { targetPackBytes: 30 * MiB, targetObjects: 40_000, seed: 1 },
  big: { targetPackBytes: 310 * MiB, targetObjects: 400_000, seed: 1 },
} as const satisfies Record<string, Omit<GenerateOptions, 'dir' | 'log'>>;

// Delta depth for fast-import; the same as `git repack`'s default so repack reuses every chain unbroken.
const DELTA_DEPTH = 50;
const MAX_FEATURES = 6;
const LIVE_RELEASES = 2;

// ---------------------------------------------------------------------------------------------
// Seeded randomness: integer-only so every platform and Node version draws the same numbers.

function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32 with its state derived from any number of integers (seed, stream, file, version...). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: number[]) {
    let h = 0x2545f491;
    for (const p of parts) {
      // Numbers beyond 32 bits (a large seed) contribute both halves.
      h = fmix32(h ^ fmix32((p >>> 0) + Math.imul(0x9e3779b1, Math.floor(p / 0x100000000) | 0)));
    }
    this.a = fmix32(h ^ 0x1b873593);
    this.b = fmix32(h ^ 0x85ebca6b);
    this.c = fmix32(h ^ 0xc2b2ae35);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 0x100000000;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Heavy-tailed positive value with the given scale, using division only (no transcendental functions). */
  pareto(scale: number, floor = 0.08): number {
    return scale / (floor + this.next());
  }
}

// Independent streams, so that e.g. sizes can be re-drawn without changing the history's shape.
const STREAM = { vocab: 1, structure: 2, sizes: 3, content: 4, message: 5, layout: 6 } as const;

// ---------------------------------------------------------------------------------------------
// Text: a seeded vocabulary and one line generator per kind of file.

const CORE_WORDS = (
  'app application project repo repository cluster sync status health resource manifest revision source ' +
  'target path name value key spec config client server token cache hash update delete create list get set ' +
  'watch event error result request response context options params item items count index data info log ' +
  'state version namespace label annotation secret service deployment controller handler filter policy role ' +
  'account session settings cert tls ssh git helm kustomize plugin hook operation history diff tree node live ' +
  'desired compare refresh retry timeout limit queue worker metrics proxy auth user group scope claim endpoint ' +
  'host port url branch tag commit ref chart values template output input file dir archive signature gpg apply ' +
  'prune wave phase message notification generator matrix cache redis repo dex oidc rbac shard replica'
).split(' ');

const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'cr', 'dr', 'fl', 'gr', 'pl', 'pr', 'st', 'tr', 'ch', 'sh', 'th', 'qu', 'sk'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ai', 'ea', 'io', 'ou', 'y'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'x', 'nd', 'st', 'ck', 'ng'];
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

class Vocab {
  readonly words: string[];

  constructor(seed: number, size = 4096) {
    const r = new Rng(seed, STREAM.vocab);
    const seen = new Set<string>(CORE_WORDS);
    this.words = [...seen];
    while (this.words.length < size) {
      let w = '';
      const syllables = 1 + r.int(3);
      for (let i = 0; i < syllables; i++) w += r.pick(ONSETS) + r.pick(VOWELS) + (i === syllables - 1 ? r.pick(CODAS) : '');
      if (w.length >= 3 && !seen.has(w)) {
        seen.add(w);
        this.words.push(w);
      }
    }
  }

  /** Zipf-like: a few words are very common, most are rare, as in real code and prose. */
  word(r: Rng): string {
    const u = r.next();
    return this.words[Math.floor(this.words.length * u * u * u)] as string;
  }

  ident(r: Rng): string {
    let s = this.word(r);
    for (let n = r.int(3); n > 0; n--) s += cap(this.word(r));
    return s;
  }

  type(r: Rng): string {
    return cap(this.ident(r));
  }

  words_(r: Rng, n: number): string {
    let s = this.word(r);
    for (let i = 1; i < n; i++) s += ' ' + this.word(r);
    return s;
  }

  sentence(r: Rng, min: number, max: number): string {
    return cap(this.words_(r, r.range(min, max)));
  }

  slug(r: Rng): string {
    return r.chance(0.5) ? this.word(r) : `${this.word(r)}-${this.word(r)}`;
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function hex(r: Rng, n: number): string {
  let s = '';
  while (s.length < n) s += r.u32().toString(16).padStart(8, '0');
  return s.slice(0, n);
}

function b64(r: Rng, n: number): string {
  let s = '';
  while (s.length < n) {
    const x = r.u32();
    s += B64.charAt(x & 63) + B64.charAt((x >>> 6) & 63) + B64.charAt((x >>> 12) & 63) + B64.charAt((x >>> 18) & 63) + B64.charAt((x >>> 24) & 63);
  }
  return s.slice(0, n);
}

function semver(r: Rng): string {
  return `${r.int(4)}.${r.int(30)}.${r.int(20)}`;
}

type Kind = 'go' | 'ts' | 'sh' | 'yaml' | 'md' | 'json' | 'sum' | 'lock' | 'gen' | 'data' | 'fixed' | 'symlink';
type LineGen = (r: Rng, v: Vocab) => string;

const LINES: Record<Exclude<Kind, 'fixed' | 'symlink'>, LineGen> = {
  go: (r, v) => {
    const ind = '\t'.repeat(1 + r.int(3));
    switch (r.int(13)) {
      case 0: return `${ind}${v.ident(r)} := ${v.ident(r)}.${v.type(r)}(${v.ident(r)}, ${v.ident(r)})`;
      case 1: return `${ind}if err := ${v.ident(r)}.${v.type(r)}(ctx, ${v.ident(r)}); err != nil {`;
      case 2: return `${ind}\treturn nil, fmt.Errorf("${v.words_(r, 2 + r.int(5))}: %w", err)`;
      case 3: return `${ind}}`;
      case 4: return `${ind}// ${v.sentence(r, 4, 14)}`;
      case 5: return `func (${v.word(r).charAt(0)} *${v.type(r)}) ${v.type(r)}(${v.ident(r)} ${v.type(r)}, ${v.ident(r)} string) (*${v.type(r)}, error) {`;
      case 6: return `${ind}${v.ident(r)}.${v.type(r)} = "${v.words_(r, 1 + r.int(4))}"`;
      case 7: return `${ind}const ${v.type(r)} = 0x${hex(r, 8)}`;
      case 8: return `${ind}${v.ident(r)} = append(${v.ident(r)}, ${v.ident(r)}[${r.int(64)}:]...)`;
      case 9: return '';
      case 10: return `${ind}for _, ${v.word(r)} := range ${v.ident(r)}.${v.type(r)}() {`;
      case 11: return `${ind}log.WithField("${v.word(r)}", ${v.ident(r)}).Debugf("${v.words_(r, 3)} %s", ${v.ident(r)})`;
      default: return `${ind}assert.Equal(t, ${r.chance(0.3) ? `"${hex(r, 40)}"` : v.ident(r)}, ${v.ident(r)}.${v.type(r)})`;
    }
  },
  ts: (r, v) => {
    const ind = '    '.repeat(r.int(4));
    switch (r.int(10)) {
      case 0: return `import {${v.type(r)}, ${v.type(r)}} from '../${v.word(r)}/${v.slug(r)}';`;
      case 1: return `${ind}const ${v.ident(r)} = await ${v.ident(r)}.${v.ident(r)}(${v.ident(r)}, {${v.word(r)}: ${r.int(1000)}});`;
      case 2: return `${ind}if (!${v.ident(r)}.${v.ident(r)}) {`;
      case 3: return `${ind}}`;
      case 4: return `${ind}return ${v.ident(r)}.map(${v.word(r)} => ${v.word(r)}.${v.ident(r)});`;
      case 5: return `export function ${v.ident(r)}(${v.ident(r)}: ${v.type(r)}, ${v.ident(r)}?: string): ${v.type(r)} {`;
      case 6: return `${ind}// ${v.sentence(r, 4, 12)}`;
      case 7: return `${ind}<${v.type(r)} ${v.ident(r)}={${v.ident(r)}} className='${v.slug(r)}'>${v.sentence(r, 1, 5)}</${v.type(r)}>`;
      case 8: return '';
      default: return `${ind}${v.ident(r)}: '${v.words_(r, 1 + r.int(4))}',`;
    }
  },
  sh: (r, v) => {
    const ind = '  '.repeat(r.int(3));
    switch (r.int(7)) {
      case 0: return `${ind}${v.word(r).toUpperCase()}=\${${v.word(r).toUpperCase()}:-${v.slug(r)}}`;
      case 1: return `${ind}if [ -z "\${${v.word(r).toUpperCase()}}" ]; then`;
      case 2: return `${ind}  echo "${v.sentence(r, 3, 9)}" >&2`;
      case 3: return `${ind}fi`;
      case 4: return `${ind}${v.word(r)} --${v.slug(r)}=${v.word(r)} ./${v.word(r)}/${v.slug(r)}.yaml`;
      case 5: return `${ind}# ${v.sentence(r, 4, 12)}`;
      default: return '';
    }
  },
  yaml: (r, v) => {
    const ind = '  '.repeat(r.int(5));
    switch (r.int(10)) {
      case 0: return `${ind}${v.ident(r)}: ${v.slug(r)}`;
      case 1: return `${ind}- name: ${v.slug(r)}`;
      case 2: return `${ind}  image: quay.io/${v.word(r)}/${v.slug(r)}:v${semver(r)}`;
      case 3: return `${ind}${v.ident(r)}: ${r.int(10000)}`;
      case 4: return `${ind}description: ${v.sentence(r, 4, 16)}`;
      case 5: return `${ind}${v.word(r)}.argoproj.io/${v.slug(r)}: "${v.words_(r, 1 + r.int(3))}"`;
      case 6: return `${ind}digest: sha256:${hex(r, 64)}`;
      case 7: return `${ind}- ${v.word(r)}`;
      case 8: return `${ind}${v.ident(r)}:`;
      default: return `${ind}${v.ident(r)}: ${r.chance(0.5) ? 'true' : 'false'}`;
    }
  },
  md: (r, v) => {
    switch (r.int(8)) {
      case 0: return `## ${v.sentence(r, 2, 6)}`;
      case 1: return '';
      case 2: return `* ${v.sentence(r, 4, 14)}`;
      case 3: return `See [${v.words_(r, 2)}](https://argo-cd.example.io/${v.word(r)}/${v.slug(r)}/) for ${v.words_(r, 3)}.`;
      case 4: return `    argocd ${v.word(r)} ${v.slug(r)} --${v.slug(r)} ${v.word(r)}`;
      default: return `${v.sentence(r, 8, 18)}.`;
    }
  },
  json: (r, v) => {
    const ind = '  '.repeat(1 + r.int(4));
    switch (r.int(6)) {
      case 0: return `${ind}"${v.ident(r)}": "${v.words_(r, 1 + r.int(5))}",`;
      case 1: return `${ind}"${v.ident(r)}": ${r.int(100000)},`;
      case 2: return `${ind}"${v.ident(r)}": {`;
      case 3: return `${ind}},`;
      case 4: return `${ind}"integrity": "sha512-${b64(r, 86)}==",`;
      default: return `${ind}"$ref": "#/definitions/v1alpha1${v.type(r)}",`;
    }
  },
  sum: (r, v) => {
    const mod = `${r.pick(['github.com', 'golang.org/x', 'k8s.io', 'sigs.k8s.io', 'go.opentelemetry.io'])}/${v.word(r)}/${v.slug(r)}`;
    return `${mod} v${semver(r)}${r.chance(0.5) ? '/go.mod' : ''} h1:${b64(r, 43)}=`;
  },
  lock: (r, v) => {
    const name = v.slug(r);
    switch (r.int(5)) {
      case 0: return `"${name}@^${semver(r)}":`;
      case 1: return `  version "${semver(r)}"`;
      case 2: return `  resolved "https://registry.yarnpkg.com/${name}/-/${name}-${semver(r)}.tgz#${hex(r, 40)}"`;
      case 3: return `  integrity sha512-${b64(r, 86)}==`;
      default: return `    ${name} "^${semver(r)}"`;
    }
  },
  gen: (r, v) => {
    if (r.chance(0.55)) {
      let s = '\t';
      for (let i = 0; i < 16; i++) s += `0x${hex(r, 2)}, `;
      return s.trimEnd();
    }
    return r.chance(0.5) ? LINES.go(r, v) : `\t${v.type(r)} *${v.type(r)} \`protobuf:"bytes,${r.int(40)},opt,name=${v.ident(r)}" json:"${v.ident(r)},omitempty"\``;
  },
  data: (r) => (r.chance(0.7) ? b64(r, 64) : `${hex(r, 8)}: ${hex(r, 8)} ${hex(r, 8)} ${hex(r, 8)} ${hex(r, 8)}`),
};

/** The first lines of a new file: boilerplate shared by files of a kind, as in real repositories. */
function header(kind: Kind, r: Rng, v: Vocab): string[] {
  switch (kind) {
    case 'go': return ['// Copyright 2017-2025 The Argo Authors.', '// SPDX-License-Identifier: Apache-2.0', '', `package ${v.word(r)}`, '', 'import ('];
    case 'gen': return ['// Code generated by protoc-gen-gogo. DO NOT EDIT.', `// source: ${v.word(r)}/${v.slug(r)}.proto`, '', `package ${v.word(r)}`, ''];
    case 'ts': return [`import * as React from 'react';`, `import {${v.type(r)}} from '../../shared/${v.word(r)}';`, ''];
    case 'sh': return ['#!/usr/bin/env bash', 'set -euo pipefail', ''];
    case 'yaml': return ['apiVersion: argoproj.io/v1alpha1', `kind: ${v.type(r)}`, 'metadata:', `  name: ${v.slug(r)}`, `  namespace: argocd`];
    case 'md': return [`# ${v.sentence(r, 2, 5)}`, ''];
    case 'json': return ['{'];
    case 'data': return ['-----BEGIN CERTIFICATE-----'];
    default: return [];
  }
}

// Edits of these kinds replace scattered lines (regenerated code, bumped lock entries), the others edit blocks.
const SCATTERED = new Set<Kind>(['sum', 'lock', 'gen']);

// Size model, calibrated against git 2.39 packs: compressed bytes per raw byte of fresh text by kind
// (whole files, and the small insertions a delta carries, which compress worse).
const RATIO_FULL: Record<Kind, number> = { go: 0.36, ts: 0.36, sh: 0.36, yaml: 0.36, md: 0.33, json: 0.37, sum: 0.48, lock: 0.48, gen: 0.35, data: 0.72, fixed: 1, symlink: 1 };
const RATIO_SMALL = 1.39;
const DELTA_OVERHEAD = 14;
const COMMIT_BYTES = 200;
const MESSAGE_RATIO = 0.62;
const TREE_DELTA_BYTES = 57;
const TREE_ENTRY_BYTES = 31;
const TAG_BYTES = 150;

// Mean raw bytes per line (newline included), measured once on a fixed sample: depends only on this code.
const MEAN_LINE = ((): Record<Kind, number> => {
  const v = new Vocab(0);
  const out = {} as Record<Kind, number>;
  for (const kind of Object.keys(LINES) as (keyof typeof LINES)[]) {
    const r = new Rng(0, 99);
    let n = 0;
    for (let i = 0; i < 4000; i++) n += LINES[kind](r, v).length + 1;
    out[kind] = n / 4000;
  }
  out.fixed = 40;
  out.symlink = 20;
  return out;
})();

// ---------------------------------------------------------------------------------------------
// The plan: history shape first, sizes later (so the size search re-runs only the cheap part).

interface Version {
  mark: number;
  /** Lines the version inserts (for the first version: the file's lines). Set by the size pass. */
  ins: number;
  /** Lines it removes; for scattered edits ins === del (lines replaced in place). */
  del: number;
}

interface FileRec {
  id: number;
  kind: Kind;
  mode: '100644' | '100755' | '120000';
  /** Lines the file drifts towards as it is edited. */
  natural: number;
  /** Never edited, renamed or deleted (symlinks, .gitmodules). */
  frozen: boolean;
  /** Edited but never renamed or deleted (README.md, go.sum, generated code...). */
  pinned: boolean;
  /** Fixed content for frozen files. */
  fixed?: string;
  versions: Version[];
}

interface Entry {
  path: string;
  /** Index into FileRec.versions. */
  v: number;
}

type Op = { t: 'M'; path: string; mode: string; ref: string } | { t: 'D'; path: string };

interface MessageShape {
  style: 'feat' | 'plain' | 'merge' | 'deps' | 'regen' | 'release' | 'sync' | 'initial';
  subjectWords: number;
  bodyLines: number;
  pr: number;
  /** Branch short name for merge messages. */
  branch?: string;
  area: string;
}

interface CommitEvent {
  t: 'commit';
  index: number;
  ref: string;
  mark: number;
  from?: number;
  merge?: number;
  time: number;
  author: number;
  committer: number;
  committerTime: number;
  msg: MessageShape;
  ops: Op[];
}

interface TagEvent {
  t: 'tag';
  name: string;
  target: number;
  annotated: boolean;
  time: number;
  tagger: number;
  lines: number;
}

type PlanEvent = CommitEvent | TagEvent;

/** Per-branch view of the tree: which file (and version) sits at which path, and directory sizes. */
class BranchTree {
  files: Map<number, Entry>;
  /** Candidate ids for random picks; may hold ids no longer on the branch (skipped lazily). */
  ids: number[];
  /** Files below each directory (recursively) and direct entries of each directory. */
  subtree: Map<string, number>;
  entries: Map<string, number>;
  /** Commit id of the submodule (only main moves it). */
  gitlink: string;
  /** Candidate ids per directory, for commits that edit neighbouring files; stale ids skipped lazily. */
  byDir: Map<string, number[]>;

  constructor(from?: BranchTree) {
    this.gitlink = from?.gitlink ?? '';
    this.files = new Map(from?.files);
    this.ids = from ? from.ids.filter((id) => from.files.has(id)) : [];
    this.byDir = new Map(from ? [...from.byDir].map(([d, ids]) => [d, ids.slice()]) : []);
    this.subtree = new Map(from?.subtree);
    this.entries = new Map(from?.entries);
  }

  add(id: number, entry: Entry): void {
    this.files.set(id, entry);
    this.ids.push(id);
    this.index(entry.path, +1);
    this.listIn(parentOf(entry.path), id);
  }

  private listIn(dir: string, id: number): void {
    const list = this.byDir.get(dir);
    if (list) list.push(id);
    else this.byDir.set(dir, [id]);
  }

  remove(id: number): void {
    const e = this.files.get(id);
    if (!e) return;
    this.files.delete(id);
    this.index(e.path, -1);
  }

  move(id: number, entry: Entry): void {
    const e = this.files.get(id);
    if (e && e.path !== entry.path) {
      this.index(e.path, -1);
      this.index(entry.path, +1);
      this.listIn(parentOf(entry.path), id);
    }
    this.files.set(id, entry);
  }

  private index(path: string, delta: number): void {
    let dir = parentOf(path);
    this.entries.set(dir, (this.entries.get(dir) ?? 0) + delta);
    for (;;) {
      const n = (this.subtree.get(dir) ?? 0) + delta;
      this.subtree.set(dir, n);
      if (dir === '') break;
      const up = parentOf(dir);
      // A directory appearing or vanishing is an entry of its parent.
      if ((delta > 0 && n === 1) || (delta < 0 && n === 0)) this.entries.set(up, (this.entries.get(up) ?? 0) + delta);
      dir = up;
    }
  }

  exists(dir: string): boolean {
    return dir === '' || (this.subtree.get(dir) ?? 0) > 0;
  }

  /** A random editable file directly in `dir`, if one is found quickly. */
  neighbour(r: Rng, dir: string, files: readonly FileRec[]): number | undefined {
    const list = this.byDir.get(dir);
    for (let tries = 0; tries < 16 && list && list.length > 0; tries++) {
      const i = r.int(list.length);
      const id = list[i] as number;
      const e = this.files.get(id);
      if (!e || parentOf(e.path) !== dir) {
        list[i] = list[list.length - 1] as number;
        list.pop();
        continue;
      }
      if (!(files[id] as FileRec).frozen) return id;
    }
    return undefined;
  }

  randomId(r: Rng, files: readonly FileRec[]): number | undefined {
    for (let tries = 0; tries < 64 && this.ids.length > 0; tries++) {
      const i = r.int(this.ids.length);
      const id = this.ids[i] as number;
      if (!this.files.has(id)) {
        // Swap-remove stale ids so picks stay O(1).
        this.ids[i] = this.ids[this.ids.length - 1] as number;
        this.ids.pop();
        continue;
      }
      if (!(files[id] as FileRec).frozen) return id;
    }
    return undefined;
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

interface Branch {
  ref: string;
  kind: 'main' | 'feature' | 'release';
  tree: BranchTree;
  /** Mark of the branch's last commit; 0 before its first. */
  tip: number;
  /** `from` for the branch's first commit. */
  base: number;
  recent: number[];
  length: number;
  commits: number;
  owner: number;
  pr: number;
  short: string;
  keep: boolean;
}

interface Plan {
  files: FileRec[];
  events: PlanEvent[];
  deleteRefs: string[];
  objects: number;
  counts: { commits: number; merges: number; trees: number; blobs: number; annotatedTags: number; lightweightTags: number; branches: number };
  /** Size-model bytes of commits, trees and tags (independent of the size scale). */
  fixedBytes: { commits: number; trees: number; tags: number };
  authors: { name: string; email: string; tz: string }[];
  /** Most branches receiving commits at the same time: fast-import keeps that many trees loaded. */
  activeBranches: number;
}

const FIRST = ['Alex', 'Jesse', 'Michael', 'Alexander', 'Leonardo', 'Ishita', 'Blake', 'Regina', 'Pasha', 'Dan', 'Jann', 'Keith', 'Nitish', 'Soumya', 'Yuan', 'Chetan', 'Ramon', 'Anand', 'Gaurav', 'Zach', 'Mayursinh', 'Ashutosh', 'Kostis', 'Christian', 'Siddhesh', 'Hong', 'Jonathan', 'Olga', 'Wei', 'Fatima', 'Lukas', 'Priya'];
const LAST = ['Matyushentsev', 'Suen', 'Crenshaw', 'Collins', 'Luz', 'Sinha', 'Pettersson', 'Fritzsche', 'West', 'Garfield', 'Kumar', 'Ghosh', 'Tang', 'Chaudhari', 'Almeida', 'Ramanathan', 'Sharma', 'Kapelonis', 'Hernandez', 'Nguyen', 'Ivanova', 'Schmidt', 'Rossi', 'Dubois', 'Okafor', 'Tanaka', 'Kowalski', 'Silva', 'Andersson', 'Haddad'];
const ZONES = ['+0000', '-0700', '-0800', '+0200', '+0530', '-0400', '+0800', '+0100', '-0500', '+0300', '+0900', '+1000'];

function makeAuthors(seed: number, v: Vocab): Plan['authors'] {
  const r = new Rng(seed, STREAM.layout, 7);
  const out: Plan['authors'] = [{ name: 'GitHub', email: 'noreply@github.com', tz: '+0000' }];
  const seen = new Set<string>();
  while (out.length < 49) {
    const first = r.pick(FIRST);
    const last = r.pick(LAST);
    if (seen.has(first + last)) continue;
    seen.add(first + last);
    const email = r.chance(0.5)
      ? `${first.toLowerCase()}.${last.toLowerCase()}@${r.pick(['example.com', 'intuit.example', 'akuity.example', 'redhat.example'])}`
      : `${10000 + r.int(90000000)}+${first.toLowerCase()}${v.word(r)}@users.noreply.github.com`;
    out.push({ name: `${first} ${last}`, email, tz: r.pick(ZONES) });
  }
  return out;
}

interface Layout {
  dirs: { path: string; flavor: Flavor; depth: number }[];
}
type Flavor = 'go' | 'ts' | 'yaml' | 'md' | 'sh' | 'fixtures';

const TOP_DIRS: [string, Flavor, number][] = [
  ['cmd', 'go', 1], ['pkg', 'go', 4], ['controller', 'go', 2], ['server', 'go', 3], ['util', 'go', 4], ['reposerver', 'go', 2],
  ['applicationset', 'go', 2], ['ui/src/app', 'ts', 4], ['manifests', 'yaml', 2], ['docs', 'md', 3], ['hack', 'sh', 1],
  ['test/e2e', 'go', 2], ['test/e2e/testdata', 'fixtures', 3], ['util/testdata', 'fixtures', 1],
];

function makeLayout(r: Rng, v: Vocab, dirCount: number): Layout {
  const dirs: Layout['dirs'] = [];
  const seen = new Set<string>();
  for (const [path, flavor] of TOP_DIRS) {
    dirs.push({ path, flavor, depth: path.split('/').length });
    seen.add(path);
  }
  const weights = TOP_DIRS.map((t) => t[2]);
  const total = weights.reduce((a, b) => a + b, 0);
  while (dirs.length < dirCount) {
    // Grow under a weighted top-level directory, then at a random depth below it.
    let w = r.int(total);
    let t = 0;
    while (w >= (weights[t] as number)) w -= weights[t++] as number;
    const top = TOP_DIRS[t] as [string, Flavor, number];
    const below = dirs.filter((d) => (d.path === top[0] || d.path.startsWith(top[0] + '/')) && d.depth < 5);
    const parent = r.pick(below);
    const name = v.slug(r);
    const path = `${parent.path}/${name}`;
    if (seen.has(path) || name === 'testdata') continue;
    seen.add(path);
    dirs.push({ path, flavor: parent.flavor, depth: parent.depth + 1 });
  }
  return { dirs };
}

function kindFor(flavor: Flavor, r: Rng): { kind: Kind; ext: string; mode: FileRec['mode'] } {
  switch (flavor) {
    case 'go': return { kind: 'go', ext: r.chance(0.3) ? '_test.go' : '.go', mode: '100644' };
    case 'ts': return { kind: 'ts', ext: r.chance(0.6) ? '.tsx' : '.ts', mode: '100644' };
    case 'yaml': return { kind: 'yaml', ext: '.yaml', mode: '100644' };
    case 'md': return { kind: 'md', ext: '.md', mode: '100644' };
    case 'sh': return { kind: 'sh', ext: '.sh', mode: '100755' };
    case 'fixtures': {
      const x = r.int(10);
      if (x < 4) return { kind: 'yaml', ext: '.yaml', mode: '100644' };
      if (x < 7) return { kind: 'json', ext: '.json', mode: '100644' };
      return { kind: 'data', ext: r.chance(0.5) ? '.pem' : '.golden', mode: '100644' };
    }
  }
}

/** Natural size in lines: mostly small files, a long tail of big ones, as in real trees. */
function naturalLines(kind: Kind, r: Rng): number {
  switch (kind) {
    case 'gen': return r.range(2500, 7000);
    case 'sum': return r.range(1200, 2600);
    case 'lock': return r.range(5000, 9000);
    case 'data': return Math.min(600, Math.round(r.pareto(12)));
    case 'md': return Math.min(1500, Math.round(r.pareto(16)));
    default: return Math.min(3000, 10 + Math.round(r.pareto(20)));
  }
}

/** Plans the whole history; `objects` counts what fast-import will create, to within a few coincidentally identical trees. */
function planHistory(seed: number, targetObjects: number, log: (line: string) => void): Plan {
  const r = new Rng(seed, STREAM.structure);
  const v = new Vocab(seed);
  const authors = makeAuthors(seed, v);
  const expectedCommits = Math.max(200, Math.round(targetObjects / 13));
  const fileTarget = Math.max(1500, Math.min(6000, Math.round(targetObjects / 100)));
  const layout = makeLayout(new Rng(seed, STREAM.layout), v, Math.max(40, Math.round(fileTarget / 14)));

  const files: FileRec[] = [];
  const events: PlanEvent[] = [];
  const deleteRefs: string[] = [];
  const usedPaths = new Set<string>();
  const usedRefs = new Set<string>();
  const deletedOnMain = new Set<number>();
  const dirVersions = new Map<string, number>();
  let nextMark = 1;
  let objects = 0;
  let commitIndex = 0;
  let time = 1_483_228_800; // 2017-01-01T00:00:00Z
  const counts: Plan['counts'] = { commits: 0, merges: 0, trees: 0, blobs: 0, annotatedTags: 0, lightweightTags: 0, branches: 0 };
  const fixedBytes: Plan['fixedBytes'] = { commits: 0, trees: 0, tags: 0 };

  const newVersion = (f: FileRec): number => {
    f.versions.push({ mark: nextMark++, ins: 0, del: 0 });
    counts.blobs++;
    return f.versions.length - 1;
  };
  const uniquePath = (dir: string, make: () => string): string => {
    for (;;) {
      const p = dir === '' ? make() : `${dir}/${make()}`;
      if (!usedPaths.has(p)) {
        usedPaths.add(p);
        return p;
      }
    }
  };
  const newFile = (dir: { path: string; flavor: Flavor }, sizeRng: Rng): { f: FileRec; path: string } => {
    const k = kindFor(dir.flavor, r);
    const path = uniquePath(dir.path, () => (k.kind === 'md' && r.chance(0.1) ? 'README.md' : `${r.chance(0.5) ? v.word(r) : `${v.word(r)}_${v.word(r)}`}${k.ext}`));
    const f: FileRec = { id: files.length, kind: k.kind, mode: k.mode, natural: naturalLines(k.kind, sizeRng), frozen: false, pinned: false, versions: [] };
    files.push(f);
    newVersion(f);
    return { f, path };
  };
  const special = (path: string, kind: Kind, extra: Partial<FileRec> = {}): { f: FileRec; path: string } => {
    usedPaths.add(path);
    const f: FileRec = { id: files.length, kind, mode: '100644', natural: naturalLines(kind, r), frozen: false, pinned: true, versions: [], ...extra };
    files.push(f);
    newVersion(f);
    return { f, path };
  };

  // Trees fast-import writes for a commit: every surviving ancestor directory of `paths`, minus those that already exist (merges, moves).
  const treesFor = (tree: BranchTree, paths: Iterable<string>, isNew?: (dir: string) => boolean): number => {
    const dirs = new Set<string>();
    for (const p of paths) {
      for (let d = parentOf(p); ; d = parentOf(d)) {
        if (dirs.has(d)) break;
        dirs.add(d);
        if (d === '') break;
      }
    }
    let n = 0;
    for (const d of dirs) {
      if (!tree.exists(d) || (isNew && !isNew(d))) continue;
      n++;
      // fast-import stores a tree whole every DELTA_DEPTH + 1 versions, else as a delta on the previous one.
      const ver = dirVersions.get(d) ?? 0;
      dirVersions.set(d, ver + 1);
      fixedBytes.trees += ver % (DELTA_DEPTH + 1) === 0 ? TREE_ENTRY_BYTES * (tree.entries.get(d) ?? 1) + 10 : TREE_DELTA_BYTES;
    }
    counts.trees += n;
    return n;
  };

  const main: Branch = { ref: 'refs/heads/main', kind: 'main', tree: new BranchTree(), tip: 0, base: 0, recent: [], length: Infinity, commits: 0, owner: 1, pr: 0, short: 'main', keep: true };
  usedRefs.add(main.ref);
  const features: Branch[] = [];
  const releases: Branch[] = [];
  const generated: number[] = [];
  const deps: { mod: number; sum: number }[] = [];
  let gitlink = { path: 'third_party/argo-ui', sha: '' };
  let pr = 1000;
  let minor = 0;
  const patch = new Map<string, number>();
  const lightweightNames = new Set<string>();

  const pushCommit = (b: Branch, ops: Op[], newBlobs: number, msg: MessageShape, author: number, merge?: number, isNew?: (dir: string) => boolean): CommitEvent => {
    time += 120 + r.int(4 * 3600);
    const committer = msg.style === 'merge' ? 0 : r.chance(0.25) ? 1 + r.int(6) : author;
    const e: CommitEvent = {
      t: 'commit', index: commitIndex++, ref: b.ref, mark: nextMark++, time, author, committer,
      committerTime: committer === author ? time : time + r.int(3 * 86400), msg, ops,
    };
    if (b.tip === 0 && b.base !== 0) e.from = b.base;
    if (merge !== undefined) e.merge = merge;
    b.tip = e.mark;
    b.commits++;
    events.push(e);
    const trees = treesFor(b.tree, ops.map((o) => o.path), isNew);
    objects += 1 + newBlobs + trees;
    counts.commits++;
    if (merge !== undefined) counts.merges++;
    fixedBytes.commits += COMMIT_BYTES + (msg.subjectWords * 7 + msg.bodyLines * 62) * MESSAGE_RATIO;
    return e;
  };

  const tag = (name: string, target: number, annotated: boolean): void => {
    events.push({ t: 'tag', name, target, annotated, time: time + 60, tagger: 1 + r.int(6), lines: annotated ? r.range(1, 30) : 0 });
    if (annotated) {
      objects++;
      counts.annotatedTags++;
      fixedBytes.tags += TAG_BYTES;
    } else counts.lightweightTags++;
  };

  const shape = (style: MessageShape['style'], area: string, b?: Branch): MessageShape => ({
    style, area, subjectWords: r.range(3, 9), bodyLines: r.chance(0.45) ? r.range(1, 14) : 0, pr: b?.pr ?? ++pr,
    ...(b ? { branch: b.short } : {}),
  });

  // --- initial import: about half the final files, plus the well-known ones.
  {
    const sizeRng = new Rng(seed, STREAM.sizes, 0);
    const ops: Op[] = [];
    const add = (x: { f: FileRec; path: string }): void => {
      main.tree.add(x.f.id, { path: x.path, v: 0 });
      ops.push({ t: 'M', path: x.path, mode: x.f.mode, ref: `:${(x.f.versions[0] as Version).mark}` });
    };
    add(special('README.md', 'md'));
    add(special('CHANGELOG.md', 'md', { natural: 4000 }));
    add(special('Makefile', 'sh'));
    add(special('.gitmodules', 'fixed', { frozen: true, fixed: `[submodule "${gitlink.path}"]\n\tpath = ${gitlink.path}\n\turl = https://github.com/argoproj/argo-ui.git\n` }));
    add(special('docs/index.md', 'md'));
    add(special('docs/README.md', 'symlink', { mode: '120000', frozen: true, fixed: 'index.md' }));
    add(special('hack/lib', 'symlink', { mode: '120000', frozen: true, fixed: '../test/e2e' }));
    const gomod = special('go.mod', 'sum', { natural: 220 });
    const gosum = special('go.sum', 'sum');
    const pkg = special('ui/package.json', 'json', { natural: 160 });
    const lock = special('ui/yarn.lock', 'lock');
    for (const x of [gomod, gosum, pkg, lock]) add(x);
    deps.push({ mod: gomod.f.id, sum: gosum.f.id }, { mod: pkg.f.id, sum: lock.f.id });
    for (const [path, kind] of [
      ['pkg/apis/application/v1alpha1/generated.pb.go', 'gen'], ['pkg/apiclient/application/application.pb.go', 'gen'],
      ['pkg/apiclient/repository/repository.pb.go', 'gen'], ['manifests/install.yaml', 'gen'], ['assets/swagger.json', 'gen'],
    ] as const) {
      const x = special(path, kind);
      generated.push(x.f.id);
      add(x);
    }
    gitlink = { path: gitlink.path, sha: hex(r, 40) };
    main.tree.gitlink = gitlink.sha;
    ops.push({ t: 'M', path: gitlink.path, mode: '160000', ref: gitlink.sha });
    while (main.tree.files.size < fileTarget / 2) {
      const u = r.next();
      add(newFile(layout.dirs[Math.floor(layout.dirs.length * u * u)] as Layout['dirs'][number], sizeRng));
    }
    const e = pushCommit(main, ops, files.length, { ...shape('initial', ''), subjectWords: 2, bodyLines: 0 }, 2);
    tag('v0.1.0', e.mark, true);
  }

  const pickFile = (b: Branch): number | undefined => {
    // Recently edited files are edited again: rich-get-richer, giving git's usual hot files.
    if (b.recent.length > 0 && r.chance(0.55)) {
      const id = b.recent[r.int(b.recent.length)] as number;
      if (b.tree.files.has(id)) return id;
    }
    return b.tree.randomId(r, files);
  };
  const touch = (b: Branch, id: number): void => {
    b.recent.push(id);
    if (b.recent.length > 120) b.recent.shift();
  };
  const edit = (b: Branch, id: number, ops: Op[]): void => {
    const f = files[id] as FileRec;
    const e = b.tree.files.get(id) as Entry;
    const ver = newVersion(f);
    b.tree.files.set(id, { path: e.path, v: ver });
    ops.push({ t: 'M', path: e.path, mode: f.mode, ref: `:${(f.versions[ver] as Version).mark}` });
    touch(b, id);
  };
  const sizeRng = new Rng(seed, STREAM.sizes, 1);
  const addRate = (fileTarget / 2) / expectedCommits;

  /** An ordinary commit on `b`: a handful of edits, sometimes a new file, on main also deletes and renames. */
  const work = (b: Branch): void => {
    const ops: Op[] = [];
    let blobs = 0;
    let style: MessageShape['style'] = r.chance(0.5) ? 'feat' : 'plain';
    const done = new Set<number>();
    const roll = r.next();
    if (b.kind !== 'release' && roll < 0.02) {
      const d = r.pick(deps);
      for (const id of [d.mod, d.sum]) {
        if (!b.tree.files.has(id)) continue;
        edit(b, id, ops);
        blobs++;
        done.add(id);
      }
      style = 'deps';
    } else if (b.kind !== 'release' && roll < 0.045) {
      const id = r.pick(generated);
      if (b.tree.files.has(id)) {
        edit(b, id, ops);
        blobs++;
        done.add(id);
      }
      style = 'regen';
    }
    let n = 1;
    while (n < 12 && r.chance(0.6)) n++;
    let firstDir: string | undefined;
    for (let i = 0; i < n; i++) {
      // Half the further files of a commit sit next to its first one, as changes usually do.
      const near = firstDir !== undefined && r.chance(0.5) ? b.tree.neighbour(r, firstDir, files) : undefined;
      const id = near ?? pickFile(b);
      if (id === undefined || done.has(id)) continue;
      firstDir ??= parentOf((b.tree.files.get(id) as Entry).path);
      done.add(id);
      edit(b, id, ops);
      blobs++;
    }
    if (b.kind !== 'release' && r.chance(addRate)) {
      // New files land next to existing ones, now and then in a new directory.
      const near = b.tree.randomId(r, files);
      const nearPath = near === undefined ? 'pkg' : (b.tree.files.get(near) as Entry).path;
      // Next to a file outside the layout (root, ui/, assets/), the new file goes to a random layout directory instead.
      const layoutDir = layout.dirs.find((d) => nearPath.startsWith(d.path + '/'));
      let dir = layoutDir ? { path: parentOf(nearPath), flavor: layoutDir.flavor } : r.pick(layout.dirs);
      if (r.chance(0.1)) {
        const sub = `${dir.path}/${v.slug(r)}`;
        // A new directory must not take the name of an existing file.
        if (!usedPaths.has(sub)) dir = { path: sub, flavor: dir.flavor };
      }
      const x = newFile(dir, sizeRng);
      b.tree.add(x.f.id, { path: x.path, v: 0 });
      touch(b, x.f.id);
      ops.push({ t: 'M', path: x.path, mode: x.f.mode, ref: `:${(x.f.versions[0] as Version).mark}` });
      blobs++;
    }
    let moved: string | undefined;
    if (b.kind === 'main') {
      if (r.chance(0.012)) {
        for (let k = r.range(1, 3); k > 0; k--) {
          const id = b.tree.randomId(r, files);
          if (id === undefined || done.has(id) || (files[id] as FileRec).pinned) continue;
          done.add(id);
          ops.push({ t: 'D', path: (b.tree.files.get(id) as Entry).path });
          b.tree.remove(id);
          deletedOnMain.add(id);
        }
      }
      if (r.chance(0.015)) {
        const id = b.tree.randomId(r, files);
        if (id !== undefined && !done.has(id) && !(files[id] as FileRec).pinned) {
          const e = b.tree.files.get(id) as Entry;
          const ext = /(_test\.go|\.[a-z]+)$/.exec(e.path)?.[1] ?? '';
          const path = uniquePath(parentOf(e.path), () => `${v.word(r)}_${v.word(r)}${ext}`);
          ops.push({ t: 'D', path: e.path });
          const f = files[id] as FileRec;
          // Most renames carry a small edit too, as `git mv` plus a fix-up usually does.
          let ver = e.v;
          if (r.chance(0.6)) {
            ver = newVersion(f);
            blobs++;
          }
          b.tree.move(id, { path, v: ver });
          ops.push({ t: 'M', path, mode: f.mode, ref: `:${(f.versions[ver] as Version).mark}` });
        }
      }
      if (r.chance(0.002)) {
        // Move a whole small directory: many renames, no new blobs.
        const id = b.tree.randomId(r, files);
        const from = id === undefined ? '' : parentOf((b.tree.files.get(id) as Entry).path);
        const movable = from.includes('/') && (b.tree.subtree.get(from) ?? 0) <= 40;
        if (movable && ![...b.tree.files].some(([fid, e]) => e.path.startsWith(from + '/') && (files[fid] as FileRec).pinned)) {
          const to = `${parentOf(from)}/${v.slug(r)}`;
          if (!b.tree.exists(to) && ![...usedPaths].some((p) => p.startsWith(to + '/'))) {
            // Unless this commit also edits a file in it, the moved directory's trees already exist.
            if (![...done].some((id) => (b.tree.files.get(id)?.path ?? '').startsWith(from + '/'))) moved = to;
            for (const [fid, e] of [...b.tree.files]) {
              if (!e.path.startsWith(from + '/') || done.has(fid)) continue;
              const path = to + e.path.slice(from.length);
              usedPaths.add(path);
              ops.push({ t: 'D', path: e.path }, { t: 'M', path, mode: (files[fid] as FileRec).mode, ref: `:${((files[fid] as FileRec).versions[e.v] as Version).mark}` });
              b.tree.move(fid, { path, v: e.v });
            }
          }
        }
      }
      if (r.chance(0.004)) {
        gitlink = { path: gitlink.path, sha: hex(r, 40) };
        b.tree.gitlink = gitlink.sha;
        ops.push({ t: 'M', path: gitlink.path, mode: '160000', ref: gitlink.sha });
      }
      if (r.chance(0.0004)) {
        // A vendored drop: a new directory of many files at once.
        const top = r.pick(layout.dirs.filter((d) => d.flavor === 'go' && d.depth <= 2));
        const dir = { path: `${top.path}/${v.word(r)}${v.word(r)}`, flavor: top.flavor };
        for (let k = r.range(20, 70); k > 0; k--) {
          const x = newFile(dir, sizeRng);
          b.tree.add(x.f.id, { path: x.path, v: 0 });
          ops.push({ t: 'M', path: x.path, mode: x.f.mode, ref: `:${(x.f.versions[0] as Version).mark}` });
          blobs++;
        }
      }
    }
    if (ops.length === 0) {
      const id = b.tree.randomId(r, files);
      if (id === undefined) return;
      edit(b, id, ops);
      blobs++;
    }
    const area = ops[0] ? (ops[0].path.split('/')[0] as string) : '';
    const author = b.kind === 'feature' ? (r.chance(0.85) ? b.owner : 1 + r.int(48)) : 1 + Math.floor(48 * r.next() * r.next());
    const isNew = moved === undefined ? undefined : (d: string): boolean => d !== moved && !d.startsWith(moved + '/');
    pushCommit(b, ops, blobs, shape(style, area, b.kind === 'feature' ? b : undefined), author, undefined, isNew);
  };

  /** Merges `src` into `dst`: paths from `dst` (main wins renames), newest version of each file. */
  const mergeInto = (dst: Branch, src: Branch, style: 'merge' | 'sync'): void => {
    const ops: Op[] = [];
    for (const [id, se] of src.tree.files) {
      const de = dst.tree.files.get(id);
      const f = files[id] as FileRec;
      if (!de) {
        if (dst.kind === 'main' && deletedOnMain.has(id)) continue;
        dst.tree.add(id, { path: se.path, v: se.v });
        ops.push({ t: 'M', path: se.path, mode: f.mode, ref: `:${(f.versions[se.v] as Version).mark}` });
        continue;
      }
      const ver = Math.max(se.v, de.v);
      const path = dst.kind === 'main' ? de.path : se.path;
      if (path !== de.path) ops.push({ t: 'D', path: de.path });
      if (path !== de.path || ver !== de.v) {
        dst.tree.move(id, { path, v: ver });
        ops.push({ t: 'M', path, mode: f.mode, ref: `:${(f.versions[ver] as Version).mark}` });
      }
    }
    if (style === 'sync') {
      for (const [id, de] of [...dst.tree.files]) {
        if (!src.tree.files.has(id) && deletedOnMain.has(id)) {
          ops.push({ t: 'D', path: de.path });
          dst.tree.remove(id);
        }
      }
      if (dst.tree.gitlink !== src.tree.gitlink) {
        dst.tree.gitlink = src.tree.gitlink;
        ops.push({ t: 'M', path: gitlink.path, mode: '160000', ref: src.tree.gitlink });
      }
    }
    // A merged directory identical to the one on `src` is the same tree object: only directories
    // holding some difference between the two sides get a new tree.
    const differ = new Set<string>();
    const mark = (path: string): void => {
      for (let d = parentOf(path); !differ.has(d); d = parentOf(d)) {
        differ.add(d);
        if (d === '') break;
      }
    };
    for (const [id, se] of src.tree.files) {
      const de = dst.tree.files.get(id);
      if (!de) mark(se.path);
      else if (de.path !== se.path) {
        mark(de.path);
        mark(se.path);
      }
      else if (de.v !== se.v) mark(de.path);
    }
    for (const [id, de] of dst.tree.files) if (!src.tree.files.has(id)) mark(de.path);
    if (dst.tree.gitlink !== src.tree.gitlink) mark(gitlink.path);
    const msg = shape(style, '', style === 'merge' ? src : dst);
    pushCommit(dst, ops, 0, { ...msg, bodyLines: style === 'merge' ? 1 : 0 }, style === 'merge' ? src.owner : dst.owner, src.tip, (d) => differ.has(d));
  };

  const releaseRate = 22 / expectedCommits;
  const nightlyRate = 50 / expectedCommits;
  let activeBranches = 1;

  while (objects < targetObjects) {
    const roll = r.next();
    if (releases.length > 0 && roll < 0.012) {
      const rel = r.pick(releases);
      work(rel);
      if (r.chance(0.15)) {
        const p = (patch.get(rel.short) ?? 0) + 1;
        patch.set(rel.short, p);
        tag(`v${rel.short.slice('release-'.length)}.${p}`, rel.tip, true);
      }
      continue;
    }
    if (features.length > 0 && roll < 0.45) {
      const fb = r.pick(features);
      if (fb.commits >= fb.length) {
        features.splice(features.indexOf(fb), 1);
        if (fb.tip !== 0 && r.chance(0.88)) {
          mergeInto(main, fb, 'merge');
          if (!fb.keep) deleteRefs.push(fb.ref);
        }
        continue;
      }
      if (fb.tip !== 0 && r.chance(0.04)) mergeInto(fb, main, 'sync');
      else work(fb);
      continue;
    }
    if (features.length < MAX_FEATURES && r.chance(0.12)) {
      const owner = 2 + r.int(47);
      const short = `${r.pick(['feat', 'fix', 'chore', 'docs', 'refactor'])}/${v.slug(r)}-${r.int(1000)}`;
      const ref = `refs/heads/${r.chance(0.3) ? `${(authors[owner] as Plan['authors'][number]).name.split(' ')[0]?.toLowerCase()}/` : ''}${short}`;
      if (!usedRefs.has(ref)) {
        usedRefs.add(ref);
        counts.branches++;
        let length = 1;
        while (length < 60 && r.chance(0.9)) length++;
        features.push({ ref, kind: 'feature', tree: new BranchTree(main.tree), tip: 0, base: main.tip, recent: [], length, commits: 0, owner, pr: ++pr, short, keep: r.chance(0.1) });
      }
    }
    work(main);
    if (r.chance(releaseRate)) {
      minor++;
      tag(`v1.${minor}.0`, main.tip, true);
      const short = `release-1.${minor}`;
      releases.push({ ref: `refs/heads/${short}`, kind: 'release', tree: new BranchTree(main.tree), tip: 0, base: main.tip, recent: [], length: Infinity, commits: 0, owner: 1, pr: 0, short, keep: true });
      counts.branches++;
      if (releases.length > LIVE_RELEASES) releases.shift();
    } else if (r.chance(nightlyRate)) {
      let name = `nightly-${new Date(time * 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
      while (lightweightNames.has(name)) name += 'b';
      lightweightNames.add(name);
      tag(name, main.tip, false);
    }
    activeBranches = Math.max(activeBranches, 1 + features.length + releases.length);
  }
  log(`planned ${counts.commits} commits (${counts.merges} merges), ${counts.blobs} blobs, ${counts.trees} trees, ${counts.annotatedTags + counts.lightweightTags} tags, ${files.length} files, ${counts.branches} branches; ${objects} objects`);
  return { files, events, deleteRefs, objects, counts, fixedBytes, authors, activeBranches };
}

/** Sets each version's line counts for an edit scale; returns the modelled packed blob bytes (chains as fast-import builds them). */
function assignSizes(plan: Plan, seed: number, scale: number, byKind?: Map<Kind, number>): number {
  let total = 0;
  for (const f of plan.files) {
    const mean = MEAN_LINE[f.kind];
    const ratio = RATIO_FULL[f.kind];
    let bytes = 0;
    if (f.frozen) {
      total += (f.fixed?.length ?? 0) + 12;
      continue;
    }
    let lines = 0;
    let depth = 0;
    for (let i = 0; i < f.versions.length; i++) {
      const ver = f.versions[i] as Version;
      const r = new Rng(seed, STREAM.sizes, f.id, i);
      if (i === 0) {
        ver.ins = Math.max(1, Math.round(f.natural * (0.4 + 0.6 * r.next())));
        ver.del = 0;
        lines = ver.ins;
        bytes += lines * mean * ratio + 12;
        continue;
      }
      if (SCATTERED.has(f.kind)) {
        const k = Math.min(lines, Math.max(1, Math.round(scale * (3 + 45 * r.next() * r.next()))));
        ver.ins = k;
        ver.del = k;
      } else {
        // Mostly a few lines; some new functions or sections; now and then most of the file rewritten.
        const x = r.next();
        const shrink = lines > f.natural * 1.3;
        let ins: number;
        let del: number;
        if (x < 0.08) {
          ins = 0;
          del = Math.max(1, Math.round(r.pareto(2)));
        } else if (x < 0.97) {
          ins = Math.max(1, Math.round(scale * (x < 0.8 ? r.pareto(2.2) : 20 + r.pareto(30))));
          del = Math.round(ins * (shrink ? 1 + r.next() : 0.8 * r.next()));
        } else {
          del = Math.round(lines * (0.5 + 0.5 * r.next()));
          ins = Math.max(1, Math.round(del * (0.8 + 0.4 * r.next())));
        }
        ver.del = Math.min(Math.max(0, lines - 1), del);
        ver.ins = ins === 0 && ver.del === 0 ? 1 : ins;
      }
      lines += ver.ins - ver.del;
      if (depth < DELTA_DEPTH) {
        depth++;
        const fresh = ver.ins * mean;
        bytes += DELTA_OVERHEAD + (SCATTERED.has(f.kind) ? ver.ins * 6 : 9) + fresh * Math.min(0.8, ratio * RATIO_SMALL);
      } else {
        depth = 0;
        bytes += lines * mean * ratio + 12;
      }
    }
    total += bytes;
    byKind?.set(f.kind, (byKind.get(f.kind) ?? 0) + bytes);
  }
  return total;
}

/** Finds the edit scale whose estimate meets the byte target (bisection; the estimate grows with the scale). */
function solveScale(plan: Plan, seed: number, targetPackBytes: number, log: (line: string) => void): number {
  const fixed = plan.fixedBytes.commits + plan.fixedBytes.trees + plan.fixedBytes.tags;
  let lo = 0.05;
  let hi = 64;
  if (fixed + assignSizes(plan, seed, lo) >= targetPackBytes) {
    log(`target of ${formatBytes(targetPackBytes)} is below what ${plan.objects} objects need; using the smallest edits`);
    hi = lo;
  } else if (fixed + assignSizes(plan, seed, hi) < targetPackBytes) {
    log(`target of ${formatBytes(targetPackBytes)} needs more objects; using the largest edits`);
    lo = hi;
  }
  for (let i = 0; i < 40 && hi / lo > 1.0001; i++) {
    const mid = Math.sqrt(lo * hi);
    if (fixed + assignSizes(plan, seed, mid) < targetPackBytes) lo = mid;
    else hi = mid;
  }
  const byKind = new Map<Kind, number>();
  const blobs = assignSizes(plan, seed, hi, byKind);
  log(`edit scale ${hi.toFixed(3)}: model ${formatBytes(fixed + blobs)} (commits ${formatBytes(plan.fixedBytes.commits)}, trees ${formatBytes(plan.fixedBytes.trees)}, blobs ${formatBytes(blobs)})`);
  log(`model blobs by kind: ${[...byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${formatBytes(n)}`).join(', ')}`);
  return hi;
}

// ---------------------------------------------------------------------------------------------
// Content: the text of each version, derived from the previous one.

function makeLines(kind: Kind, r: Rng, v: Vocab, n: number, withHeader: boolean): string {
  const gen = LINES[kind as keyof typeof LINES];
  const out = withHeader ? header(kind, r, v).slice(0, n) : [];
  while (out.length < n) out.push(gen(r, v));
  return out.join('\n') + '\n';
}

function lineStarts(buf: Buffer): number[] {
  const starts = [0];
  for (let i = buf.indexOf(10); i >= 0 && i < buf.length - 1; i = buf.indexOf(10, i + 1)) starts.push(i + 1);
  return starts;
}

/** Applies one planned edit: `del` lines removed and `ins` written, in 1-3 hunks or as scattered replacements. */
function editContent(f: FileRec, buf: Buffer, ver: Version, r: Rng, v: Vocab): Buffer {
  const starts = lineStarts(buf);
  const lines = starts.length;
  const at = (i: number): number => (i >= lines ? buf.length : (starts[i] as number));
  const parts: Buffer[] = [];
  if (SCATTERED.has(f.kind)) {
    const gen = LINES[f.kind as keyof typeof LINES];
    let prev = 0;
    for (let k = 0; k < ver.ins; k++) {
      // Stratified positions: distinct, sorted, spread over the whole file like a regeneration.
      const line = Math.min(lines - 1, Math.floor(((k + r.next()) * lines) / ver.ins));
      parts.push(buf.subarray(at(prev), at(line)), Buffer.from(gen(r, v) + '\n', 'latin1'));
      prev = line + 1;
    }
    parts.push(buf.subarray(at(prev)));
    return Buffer.concat(parts);
  }
  let hunks = 1 + (r.chance(0.3) ? 1 : 0) + (r.chance(0.1) ? 1 : 0);
  hunks = Math.max(1, Math.min(hunks, Math.max(ver.ins, ver.del)));
  const kept = lines - ver.del;
  const points: number[] = [];
  for (let h = 0; h < hunks; h++) points.push(r.int(kept + 1));
  points.sort((a, b) => a - b);
  let insLeft = ver.ins;
  let delLeft = ver.del;
  let orig = 0;
  let deleted = 0;
  for (let h = 0; h < hunks; h++) {
    const last = h === hunks - 1;
    const ins = last ? insLeft : r.int(insLeft + 1);
    const del = last ? delLeft : r.int(delLeft + 1);
    insLeft -= ins;
    delLeft -= del;
    const pos = (points[h] as number) + deleted;
    parts.push(buf.subarray(at(orig), at(pos)));
    if (ins > 0) parts.push(Buffer.from(makeLines(f.kind, r, v, ins, false), 'latin1'));
    orig = pos + del;
    deleted += del;
  }
  parts.push(buf.subarray(at(orig)));
  return Buffer.concat(parts);
}

function commitMessage(e: CommitEvent, r: Rng, v: Vocab, authors: Plan['authors']): string {
  const m = e.msg;
  const subject = v.words_(r, m.subjectWords);
  const area = m.area && m.area !== '.' ? m.area.replace(/^\./, '') : v.word(r);
  let s: string;
  switch (m.style) {
    case 'initial': return 'Initial import\n';
    case 'merge': return `Merge pull request #${m.pr} from ${v.word(r)}/${m.branch ?? 'main'}\n\n${cap(subject)}\n`;
    case 'sync': return `Merge branch 'main' into ${m.branch ?? 'feature'}\n`;
    case 'deps': s = `chore(deps): bump ${v.word(r)}/${v.slug(r)} from ${semver(r)} to ${semver(r)} (#${m.pr})`; break;
    case 'regen': s = `chore: regenerate ${area} ${v.words_(r, 2)} (#${m.pr})`; break;
    case 'feat': s = `${r.pick(['feat', 'fix', 'chore', 'docs', 'test', 'refactor'])}(${area}): ${subject} (#${m.pr})`; break;
    default: s = `${cap(subject)}`;
  }
  if (m.bodyLines > 0) {
    s += '\n';
    for (let i = 0; i < m.bodyLines; i++) s += `\n${v.sentence(r, 6, 11)}`;
    const a = authors[e.author] as Plan['authors'][number];
    s += `\n\nSigned-off-by: ${a.name} <${a.email}>`;
  }
  return s + '\n';
}

// ---------------------------------------------------------------------------------------------
// fast-import plumbing.

/** Buffers small writes into large chunks and waits for 'drain' whenever the pipe is full. */
class StreamSink {
  private pending = '';
  private failure: Error | undefined;
  bytes = 0;

  constructor(private readonly out: NodeJS.WritableStream & { writableNeedDrain?: boolean }) {
    out.on('error', (err: Error) => (this.failure ??= err));
  }

  async text(s: string): Promise<void> {
    this.pending += s;
    if (this.pending.length >= 1 << 18) await this.flush();
  }

  async data(header: string, body: Buffer): Promise<void> {
    this.pending += header;
    if (body.length < 1 << 14) {
      this.pending += body.toString('latin1') + '\n';
      if (this.pending.length >= 1 << 18) await this.flush();
      return;
    }
    await this.flush();
    await this.write(body);
    this.pending = '\n';
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending, 'latin1');
    this.pending = '';
    await this.write(chunk);
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.bytes += chunk.length;
    if (this.out.write(chunk)) return;
    // 'close' instead of 'drain' means fast-import is gone; its exit status tells why.
    const stop = new AbortController();
    try {
      await Promise.race([
        once(this.out, 'drain', { signal: stop.signal }),
        once(this.out, 'close', { signal: stop.signal }).then(() => {
          throw this.failure ?? new Error('git fast-import closed its input');
        }),
      ]);
    } finally {
      stop.abort();
    }
  }
}

const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };

function gitEnv(gitDir: string): NodeJS.ProcessEnv {
  return { ...GIT_ENV, GIT_DIR: gitDir };
}

async function fastImport(gitDir: string, args: string[], produce: (sink: StreamSink) => Promise<void>): Promise<string> {
  const child = spawn('git', ['fast-import', ...args], { env: { ...process.env, ...gitEnv(gitDir) }, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr = (stderr + s).slice(-64 * 1024)));
  const exited = new Promise<string>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolveExit(signal ? `signal ${signal}` : `exit ${code ?? '?'}`));
  });
  // A spawn failure is reported where `exited` is awaited, not as an unhandled rejection meanwhile.
  exited.catch(() => {});
  const sink = new StreamSink(child.stdin);
  try {
    await produce(sink);
    await sink.flush();
    child.stdin.end();
  } catch (err) {
    child.kill();
    const status = await exited;
    throw new Error(`git fast-import failed (${status}): ${(err as Error).message}\n${stderr.trim().slice(-4000)}`, { cause: err });
  }
  const status = await exited;
  if (status !== 'exit 0') throw new Error(`git fast-import failed (${status}):\n${stderr.trim().slice(-4000)}`);
  return stderr;
}

async function emit(plan: Plan, seed: number, sink: StreamSink, log: (line: string) => void, started: number): Promise<void> {
  const v = new Vocab(seed);
  const totalVersions = plan.counts.blobs;
  let written = 0;
  let nextLog = 0.1;
  const progress = (what: string, frac: number): void => {
    if (frac < nextLog) return;
    nextLog = Math.floor(frac * 10 + 1) / 10;
    log(`  ${what} ${Math.round(frac * 100)}% (${formatBytes(sink.bytes)} streamed, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
  await sink.text('feature done\n');
  log(`streaming ${totalVersions} blobs, grouped by file so fast-import deltifies each on its previous version`);
  // fast-import deltifies a blob only against the blob stored just before it, so each file's versions go back to back.
  for (const f of plan.files) {
    let content: Buffer = Buffer.alloc(0);
    for (let i = 0; i < f.versions.length; i++) {
      const ver = f.versions[i] as Version;
      const r = new Rng(seed, STREAM.content, f.id, i);
      if (f.frozen) content = Buffer.from(f.fixed ?? '', 'latin1');
      else content = i === 0 ? Buffer.from(makeLines(f.kind, r, v, ver.ins, true), 'latin1') : editContent(f, content, ver, r, v);
      await sink.data(`blob\nmark :${ver.mark}\ndata ${content.length}\n`, content);
      written++;
    }
    progress('blobs', written / totalVersions);
  }
  log(`streaming ${plan.counts.commits} commits and ${plan.counts.annotatedTags + plan.counts.lightweightTags} tags`);
  nextLog = 0.1;
  let commits = 0;
  for (const e of plan.events) {
    if (e.t === 'tag') {
      const t = plan.authors[e.tagger] as Plan['authors'][number];
      if (!e.annotated) {
        await sink.text(`reset refs/tags/${e.name}\nfrom :${e.target}\n\n`);
        continue;
      }
      const r = new Rng(seed, STREAM.message, 1_000_000 + e.target);
      let msg = `Release ${e.name}\n`;
      if (e.lines > 1) {
        msg += '\n';
        for (let i = 1; i < e.lines; i++) msg += `* ${v.sentence(r, 4, 12)} (#${1000 + r.int(20000)})\n`;
      }
      await sink.text(`tag ${e.name}\nfrom :${e.target}\ntagger ${t.name} <${t.email}> ${e.time} ${t.tz}\ndata ${msg.length}\n${msg}\n`);
      continue;
    }
    const a = plan.authors[e.author] as Plan['authors'][number];
    const c = plan.authors[e.committer] as Plan['authors'][number];
    const msg = commitMessage(e, new Rng(seed, STREAM.message, e.index), v, plan.authors);
    let s = `commit ${e.ref}\nmark :${e.mark}\nauthor ${a.name} <${a.email}> ${e.time} ${a.tz}\ncommitter ${c.name} <${c.email}> ${e.committerTime} ${c.tz}\ndata ${msg.length}\n${msg}`;
    if (e.from !== undefined) s += `from :${e.from}\n`;
    if (e.merge !== undefined) s += `merge :${e.merge}\n`;
    for (const op of e.ops) s += op.t === 'D' ? `D ${op.path}\n` : `M ${op.mode} ${op.ref} ${op.path}\n`;
    await sink.text(s + '\n');
    progress('commits', ++commits / plan.counts.commits);
  }
  await sink.text('done\n');
}

// ---------------------------------------------------------------------------------------------
// Public API.

export async function generateRepo(options: GenerateOptions): Promise<GeneratedRepo> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  const dir = resolve(options.dir);
  if (!(options.targetPackBytes > 0) || !(options.targetObjects > 0)) throw new RangeError('targetPackBytes and targetObjects must be positive');
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0) throw new Error(`${dir} exists and is not empty`);
  await mkdir(dir, { recursive: true });

  const plan = planHistory(seed, options.targetObjects, log);
  solveScale(plan, seed, options.targetPackBytes, log);
  log(`planned in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  await runChecked('git', ['init', '--bare', '--quiet', '--initial-branch=main', dir], { env: GIT_ENV });
  // Benchmarks must see the repository exactly as generated: no automatic gc, ever.
  await runChecked('git', ['config', 'gc.auto', '0'], { env: gitEnv(dir) });

  const importStarted = Date.now();
  const activeBranches = Math.max(5, plan.activeBranches + 1);
  log(`git fast-import --depth=${DELTA_DEPTH} --active-branches=${activeBranches}`);
  const stats = await fastImport(dir, [`--depth=${DELTA_DEPTH}`, `--active-branches=${activeBranches}`, '--done'], (sink) =>
    emit(plan, seed, sink, log, started),
  );
  const total = /Total objects:\s+(\d+)/.exec(stats)?.[1];
  log(`fast-import: ${total ?? '?'} objects in ${((Date.now() - importStarted) / 1000).toFixed(1)} s`);

  await updateRefs(dir, plan.deleteRefs);
  await runChecked('git', ['pack-refs', '--all', '--prune'], { env: gitEnv(dir) });

  const repackStarted = Date.now();
  // Without -f: fast-import's deltas are reused, only its whole objects are searched for bases.
  await runChecked('git', ['repack', '-a', '-d', '-b', '-q'], { env: gitEnv(dir) });
  const info = await packInfo(dir);
  log(`repack -a -d -b in ${((Date.now() - repackStarted) / 1000).toFixed(1)} s: ${formatBytes(info.packBytes)}, ${info.objects} objects`);
  if (info.objects !== plan.objects) log(`note: planned ${plan.objects} objects, the pack holds ${info.objects}`);
  const seconds = (Date.now() - started) / 1000;
  log(`generated ${dir} in ${seconds.toFixed(1)} s`);
  return { dir, packBytes: info.packBytes, objects: info.objects, seconds };
}

/** Deletes the refs of merged feature branches (their commits stay reachable through the merges). */
async function updateRefs(gitDir: string, deletes: readonly string[]): Promise<void> {
  if (deletes.length === 0) return;
  const child = spawn('git', ['update-ref', '--stdin'], { env: { ...process.env, ...gitEnv(gitDir) }, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<number>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res(code ?? 1));
  });
  child.stdin.end(deletes.map((ref) => `delete ${ref}\n`).join(''));
  const code = await closed;
  if (code !== 0) throw new Error(`git update-ref --stdin exited with ${code}: ${stderr.trim()}`);
}

const MARKER = 'argocd-dr-bench.json';

interface Marker {
  generator: number;
  options: { targetPackBytes: number; targetObjects: number; seed: number };
  result: Omit<GeneratedRepo, 'dir'>;
}

/** Reuses `cacheDir/name` when its marker records the same options and generator version; else builds it beside and renames it in, so a crash leaves nothing half-made. */
export async function ensureRepo(
  cacheDir: string,
  name: string,
  options: Omit<GenerateOptions, 'dir'>,
): Promise<GeneratedRepo & { cached: boolean }> {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`bad cache name ${JSON.stringify(name)}`);
  const dir = join(resolve(cacheDir), name);
  const want: Marker['options'] = { targetPackBytes: options.targetPackBytes, targetObjects: options.targetObjects, seed: options.seed ?? 1 };
  const marker = await readFile(join(dir, MARKER), 'utf8').then((s) => JSON.parse(s) as Marker).catch(() => undefined);
  if (marker && marker.generator === GENERATOR_VERSION && JSON.stringify(marker.options) === JSON.stringify(want)) {
    const info = await packInfo(dir).catch(() => undefined);
    if (info && info.packBytes === marker.result.packBytes && info.objects === marker.result.objects) {
      options.log?.(`reusing ${dir} (${formatBytes(info.packBytes)}, ${info.objects} objects)`);
      return { dir, ...marker.result, cached: true };
    }
  }
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(resolve(cacheDir), { recursive: true });
  const result = await generateRepo({ ...options, dir: partial });
  const record: Marker = { generator: GENERATOR_VERSION, options: want, result: { packBytes: result.packBytes, objects: result.objects, seconds: result.seconds } };
  await writeFile(join(partial, MARKER), JSON.stringify(record, null, 2) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  options.log?.(`ready at ${dir}`);
  return { ...result, dir, cached: false };
}

/** Default cache, outside the working tree. */
export function defaultCacheDir(): string {
  return process.env.ARGOCD_DR_BENCH_CACHE ?? '/tmp/argocd-dr-bench-cache';
}

// `node dist/bench/generate-repo.js [small|big ...] [--cache DIR]`
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const cacheAt = args.indexOf('--cache');
  const cacheDir = cacheAt >= 0 ? (args.splice(cacheAt, 2)[1] ?? defaultCacheDir()) : defaultCacheDir();
  const names = args.length > 0 ? args : ['small', 'big'];
  const rows: Record<string, string | number | boolean>[] = [];
  for (const name of names) {
    const preset = BENCH_REPOS[name as keyof typeof BENCH_REPOS];
    if (!preset) throw new Error(`unknown repository ${name}; known: ${Object.keys(BENCH_REPOS).join(', ')}`);
    const t0 = Date.now();
    const result = await ensureRepo(cacheDir, name, { ...preset, log: (line) => console.log(`[${name}] ${line}`) });
    rows.push({ name, dir: result.dir, pack: formatBytes(result.packBytes), objects: result.objects, generationSeconds: result.seconds, cached: result.cached, wallSeconds: (Date.now() - t0) / 1000 });
  }
  console.log(formatTable(rows));
}
