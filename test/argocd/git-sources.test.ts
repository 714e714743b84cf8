import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { inventorySources, type SourceInventory } from '../../lambdas/argocd/git-sources.js';

// Fixtures marked "from Argo CD" are copied from github.com/argoproj/argo-cd (Apache-2.0, Copyright The Argo
// Authors) at commit 37ee0097cf85 via the project's reference set (../shared/reference/argocd); each names its
// file there. "trimmed" means fields that do not bear on sources were left out.

function docs(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as Record<string, unknown>);
}

function ofKind(objects: Record<string, unknown>[], kind: string): Record<string, unknown>[] {
  return objects.filter((o) => o.kind === kind);
}

function inventory(yamlText: string): SourceInventory {
  const objects = docs(yamlText);
  return inventorySources(ofKind(objects, 'Application'), ofKind(objects, 'ApplicationSet'));
}

describe('Applications from the reference set', () => {
  it('operator-manual/application.yaml: sourceHydrator wins over source and sources, which are reported', () => {
    // from Argo CD: operator-manual/application.yaml (trimmed)
    const inv = inventory(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git  # Can point to either a Helm chart repo or a git repo.
    targetRevision: HEAD  # For Helm, this refers to the chart version.
    path: guestbook  # This has no meaning for Helm charts pulled directly from a Helm repo instead of git.
    chart: chart-name  # Set this when pulling directly from a Helm repo. DO NOT set for git-hosted Helm charts.
  sources:
    - repoURL: https://github.com/argoproj/argocd-example-apps.git  # Can point to either a Helm chart repo or a git repo.
      targetRevision: HEAD  # For Helm, this refers to the chart version.
      path: guestbook  # This has no meaning for Helm charts pulled directly from a Helm repo instead of git.
      ref: my-repo  # For Helm, acts as a reference to this source for fetching values files from this source. Has no meaning when under \`source\` field
      name: 'guestbook' # Optional source name. Can be used instead of the source position in multi-source Applications CLI
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  revisionHistoryLimit: 10
  sourceHydrator:
    drySource:
      repoURL: https://github.com/argoproj/argocd-example-apps.git
      targetRevision: HEAD
      path: guestbook
    syncSource:
      targetBranch: env/prod
      path: guestbook-hydrated
`);
    expect(inv.git).toEqual([{
      repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
      normalizedURL: 'https://github.com/argoproj/argocd-example-apps',
      repoURLs: ['https://github.com/argoproj/argocd-example-apps.git'],
      revisions: ['HEAD', 'env/prod'],
      paths: ['guestbook', 'guestbook-hydrated'],
      applications: ['argocd/guestbook'],
      deployedRevisions: [],
    }]);
    expect(inv.notMirrored).toEqual([]);
    expect(inv.unresolved).toEqual([
      {
        repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
        where: 'application argocd/guestbook spec.source',
        reason: 'ignored by Argo CD because spec.sourceHydrator is set; not inventoried',
      },
      {
        repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
        where: 'application argocd/guestbook spec.sources[0]',
        reason: 'ignored by Argo CD because spec.sourceHydrator is set; not inventoried',
      },
    ]);
  });

  it('extracted-from-docs/multi-source-apps.multiple_sources.yaml: two Git sources; Helm chart with a ref-only values repo', () => {
    // from Argo CD: extracted-from-docs/multi-source-apps.multiple_sources.yaml (verbatim; the 2nd document has no metadata)
    const inv = inventory(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-billing-app
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: default
  sources:
    - repoURL: https://github.com/mycompany/billing-app.git
      path: manifests
      targetRevision: 8.5.1
    - repoURL: https://github.com/mycompany/common-settings.git
      path: configmaps-billing
      targetRevision: HEAD
---
apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  sources:
  - repoURL: 'https://prometheus-community.github.io/helm-charts'
    chart: prometheus
    targetRevision: 15.7.1
    helm:
      valueFiles:
      - $values/charts/prometheus/values.yaml
  - repoURL: 'https://git.example.com/org/value-files.git'
    targetRevision: dev
    ref: values
`);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.applications])).toEqual([
      ['https://git.example.com/org/value-files', ['dev'], [], ['argocd/(unnamed)']],
      ['https://github.com/mycompany/billing-app', ['8.5.1'], ['manifests'], ['argocd/my-billing-app']],
      ['https://github.com/mycompany/common-settings', ['HEAD'], ['configmaps-billing'], ['argocd/my-billing-app']],
    ]);
    expect(inv.notMirrored).toEqual([{
      repoURL: 'https://prometheus-community.github.io/helm-charts',
      kind: 'helm',
      reason: 'Helm chart repository (chart prometheus): charts are not Git; argocd-dr does not mirror Helm repositories',
      applications: ['argocd/(unnamed)'],
    }]);
    expect(inv.unresolved).toEqual([]);
  });

  it('helm-apps.declarative-setup.yaml, oci-apps.oci.yaml and misc/live-child-application.yaml: Helm and OCI are listed apart', () => {
    // from Argo CD: extracted-from-docs/helm-apps.declarative-setup.yaml (verbatim)
    const helmApps = `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: sealed-secrets
  namespace: argocd
spec:
  project: default
  source:
    chart: sealed-secrets
    repoURL: https://bitnami.github.io/sealed-secrets
    targetRevision: 1.16.1
    helm:
      releaseName: sealed-secrets
  destination:
    server: "https://kubernetes.default.svc"
    namespace: kubeseal
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: nginx
spec:
  project: default
  source:
    chart: nginx
    repoURL: registry-1.docker.io/bitnamicharts  # note: the oci:// syntax is not included.
    targetRevision: 15.9.0
  destination:
    name: "in-cluster"
    namespace: nginx
`;
    // from Argo CD: extracted-from-docs/oci-apps.oci.yaml (verbatim, names made unique: the docs reuse them)
    const ociApps = `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-custom-image
  namespace: argocd
spec:
  project: default
  source:
    path: .
    repoURL: oci://registry-1.docker.io/some-user/my-custom-image
    targetRevision: 1.16.1
  destination:
    server: "https://kubernetes.default.svc"
    namespace: my-namespace
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: nginx-oci
spec:
  project: default
  source:
    path: .
    repoURL: oci://registry-1.docker.io/bitnamicharts/nginx 
    targetRevision: 15.9.0
    helm:
      valuesObject:
        some-value: foo
  destination:
    name: "in-cluster"
    namespace: nginx
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-custom-image-no-scheme
  namespace: argocd
spec:
  project: default
  source:
    path: bitnamicharts/nginx
    repoURL: registry-1.docker.io
    targetRevision: 1.16.1
  destination:
    server: "https://kubernetes.default.svc"
    namespace: my-namespace
`;
    // from Argo CD: misc/live-child-application.yaml (trimmed)
    const liveChild = `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: argo-workflows
  namespace: argocd
spec:
  project: default
  source:
    chart: argo-workflows
    repoURL: 'https://argoproj.github.io/argo-helm'
    targetRevision: 0.45.27
`;
    const inv = inventory([helmApps, ociApps, liveChild].join('\n---\n'));
    expect(inv.git).toEqual([]);
    expect(inv.notMirrored.map((n) => [n.repoURL, n.kind, n.applications])).toEqual([
      ['https://argoproj.github.io/argo-helm', 'helm', ['argocd/argo-workflows']],
      ['https://bitnami.github.io/sealed-secrets', 'helm', ['argocd/sealed-secrets']],
      ['oci://registry-1.docker.io/bitnamicharts/nginx', 'oci', ['argocd/nginx-oci']],
      ['oci://registry-1.docker.io/some-user/my-custom-image', 'oci', ['argocd/my-custom-image']],
      ['registry-1.docker.io/bitnamicharts', 'helm', ['argocd/nginx']],
    ]);
    expect(inv.notMirrored[4]?.reason).toBe('Helm chart from an OCI registry (chart nginx) (repoURL without a scheme): not Git; argocd-dr does not mirror registries');
    expect(inv.notMirrored[2]?.reason).toMatch(/^OCI artifact/);
    // Without oci:// and without chart, Argo CD's repo-server takes it for Git; it cannot be fetched as Git.
    expect(inv.unresolved).toEqual([{
      repoURL: 'registry-1.docker.io',
      where: 'application argocd/my-custom-image-no-scheme spec.source',
      reason: 'repoURL has no scheme and is not scp-style (user@host:path); a Git client would read it as a local path',
    }]);
  });

  it('extracted-from-docs/source-hydrator.source-hydrator.yaml: dry, sync and hydrateTo branches', () => {
    // from Argo CD: extracted-from-docs/source-hydrator.source-hydrator.yaml (documents at lines 99, 125 and 300; names made unique)
    const inv = inventory(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-app
spec:
  sourceHydrator:
    drySource:
      repoURL: https://github.com/argoproj/argocd-example-apps
      path: helm-guestbook
      targetRevision: HEAD
    syncSource:
      targetBranch: environments/dev
      path: helm-guestbook
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-app-two-repos
spec:
  sourceHydrator:
    drySource:
      repoURL: https://github.com/my-org/config
      path: helm-guestbook
      targetRevision: HEAD
    syncSource:
      repoURL: https://github.com/my-org/deployments
      targetBranch: environments/dev
      path: helm-guestbook
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: my-app-staged
spec:
  project: my-project
  destination:
    server: https://kubernetes.default.svc
    namespace: default
  sourceHydrator:
    drySource:
      repoURL: https://github.com/argoproj/argocd-example-apps
      path: helm-guestbook
      targetRevision: HEAD
    syncSource:
      targetBranch: environments/dev
      path: helm-guestbook
    hydrateTo:
      targetBranch: environments/dev-next
`);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.applications])).toEqual([
      ['https://github.com/argoproj/argocd-example-apps', ['HEAD', 'environments/dev', 'environments/dev-next'], ['helm-guestbook'],
        ['argocd/my-app', 'argocd/my-app-staged']],
      ['https://github.com/my-org/config', ['HEAD'], ['helm-guestbook'], ['argocd/my-app-two-repos']],
      ['https://github.com/my-org/deployments', ['environments/dev'], ['helm-guestbook'], ['argocd/my-app-two-repos']],
    ]);
    expect(inv.unresolved).toEqual([]);
  });
});

describe('ApplicationSets from the reference set', () => {
  it('extracted-from-docs/matrix-git-generators.Generators-Matrix.yaml: git generators inside matrix', () => {
    // from Argo CD: extracted-from-docs/matrix-git-generators.Generators-Matrix.yaml (documents at lines 33, 180 and 264, verbatim)
    const inv = inventory(`
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: cluster-git
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    # matrix 'parent' generator
    - matrix:
        generators:
          # git generator, 'child' #1
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              directories:
                - path: applicationset/examples/matrix/cluster-addons/*
          # cluster generator, 'child' #2
          - clusters:
              selector:
                matchLabels:
                  argocd.argoproj.io/secret-type: cluster
  template:
    metadata:
      name: '{{.path.basename}}-{{.name}}'
    spec:
      project: '{{index .metadata.labels "environment"}}'
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}'
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: parameter-override-example
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/example/values.git
              revision: HEAD
              files:
                - path: "**/stage.values.yaml"
          - git:
               repoURL: https://github.com/example/values.git
               revision: HEAD
               files:
                  - path: "global.values.yaml"
  goTemplate: true
  template:
    metadata:
      name: example
    spec:
      project: default
      source:
        repoURL: https://github.com/example/example-app.git
        targetRevision: HEAD
        path: .
        helm:
          values: |
            {{ \`{{ . | mustToPrettyJson }}\` }}
      destination:
        server: in-cluster
        namespace: default
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: two-gits-with-path-param-prefix
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          # git file generator referencing files containing details about each
          # app to be deployed (e.g., \`appName\`).
          - git:
              repoURL: https://github.com/some-org/some-repo.git
              revision: HEAD
              files:
                - path: "apps/*.json"
              pathParamPrefix: app
          # git file generator referencing files containing details about
          # locations to which each app should deploy (e.g., \`region\` and
          # \`clusterName\`).
          - git:
              repoURL: https://github.com/some-org/some-repo.git
              revision: HEAD
              files:
                - path: "targets/{{.appName}}/*.json"
              pathParamPrefix: target
  template: {} # ...
`);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.applications])).toEqual([
      ['https://github.com/argoproj/argo-cd', ['HEAD'], ['applicationset/examples/matrix/cluster-addons/*'], ['applicationset:argocd/cluster-git']],
      ['https://github.com/example/example-app', ['HEAD'], ['.'], ['applicationset:argocd/parameter-override-example']],
      ['https://github.com/example/values', ['HEAD'], ['**/stage.values.yaml', 'global.values.yaml'], ['applicationset:argocd/parameter-override-example']],
      ['https://github.com/some-org/some-repo', ['HEAD'], ['apps/*.json'], ['applicationset:argocd/two-gits-with-path-param-prefix']],
    ]);
    expect(inv.unresolved).toEqual([{
      repoURL: 'https://github.com/some-org/some-repo.git',
      where: 'applicationset argocd/two-gits-with-path-param-prefix spec.generators[0].matrix.generators[1].git',
      reason: 'git generator uses values only known when it runs: files path targets/{{.appName}}/*.json',
    }]);
  });

  it('applicationset-examples: merge of matrixes, pull request, SCM provider, template override', () => {
    // from Argo CD: applicationset-examples/merge-two-matrixes.yaml (verbatim)
    const mergeTwoMatrixes = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: merge-two-matrixes
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - merge:
        mergeKeys:
          - server
          - environment
        generators:
          - matrix:
              generators:
                - clusters:
                    values:
                      replicaCount: '2'
                - list:
                    elements:
                      - environment: staging
                        namespace: guestbook-non-prod
                      - environment: prod
                        namespace: guestbook
          - list:
              elements:
                - server: https://kubernetes.default.svc
                  environment: staging
                  values.replicaCount: '1'
  template:
    metadata:
      name: '{{.name}}-guestbook-{{.environment}}'
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps/
        targetRevision: HEAD
        path: helm-guestbook
        helm:
          parameters:
            - name: replicaCount
              value: '{{.values.replicaCount}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.namespace}}'
`;
    // from Argo CD: applicationset-examples/pull-request-example.yaml (trimmed)
    const pullRequest = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: myapp
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - pullRequest:
      github:
        owner: myorg
        repo: myrepo
        api: https://git.example.com/
        tokenRef:
          secretName: github-token
          key: token
        labels:
        - preview
  template:
    metadata:
      name: 'myapp-{{ .branch }}-{{ .number }}'
    spec:
      source:
        repoURL: 'https://github.com/myorg/myrepo.git'
        targetRevision: '{{ .head_sha }}'
        path: helm-guestbook
      project: default
      destination:
        server: https://kubernetes.default.svc
        namespace: "{{ .branch }}-{{ .number }}"
`;
    // from Argo CD: applicationset-examples/scm-provider-example.yaml (verbatim, renamed: it shares its name with the next one)
    const scmProvider = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook-scm
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - scmProvider:
      github:
        organization: argoproj
      cloneProtocol: https
      filters:
      - repositoryMatch: example-apps
  template:
    metadata:
      name: '{{ .repository }}-guestbook'
    spec:
      project: "default"
      source:
        repoURL: '{{ .url }}'
        targetRevision: '{{ .branch }}'
        path: guestbook
      destination:
        server: https://kubernetes.default.svc
        namespace: guestbook
`;
    // from Argo CD: applicationset-examples/template-overrides-example.yaml (verbatim)
    const templateOverride = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
        - cluster: engineering-dev
          url: https://kubernetes.default.svc
      template:
        metadata: {}
        spec:
          project: "default"
          source:
            targetRevision: HEAD
            repoURL: https://github.com/argoproj/argo-cd.git
            path: 'applicationset/examples/template-override/{{.cluster}}-override'
          destination: {}

  template:
    metadata:
      name: '{{.cluster}}-guestbook'
    spec:
      project: "default"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: applicationset/examples/template-override/default
      destination:
        server: '{{.url}}'
        namespace: guestbook
`;
    const inv = inventory([mergeTwoMatrixes, pullRequest, scmProvider, templateOverride].join('\n---\n'));
    expect(inv.git).toEqual([
      {
        repoURL: 'https://github.com/argoproj/argo-cd.git',
        normalizedURL: 'https://github.com/argoproj/argo-cd',
        repoURLs: ['https://github.com/argoproj/argo-cd.git'],
        revisions: ['HEAD'],
        paths: ['applicationset/examples/template-override/default'],
        applications: ['applicationset:argocd/guestbook'],
        deployedRevisions: [],
      },
      {
        // Argo CD keeps the trailing slash (NormalizeGitURL); the inventory's identity drops it.
        repoURL: 'https://github.com/argoproj/argocd-example-apps/',
        normalizedURL: 'https://github.com/argoproj/argocd-example-apps',
        repoURLs: ['https://github.com/argoproj/argocd-example-apps/'],
        revisions: ['HEAD'],
        paths: ['helm-guestbook'],
        applications: ['applicationset:argocd/merge-two-matrixes'],
        deployedRevisions: [],
      },
      {
        repoURL: 'https://github.com/myorg/myrepo.git',
        normalizedURL: 'https://github.com/myorg/myrepo',
        repoURLs: ['https://github.com/myorg/myrepo.git'],
        revisions: [],
        paths: ['helm-guestbook'],
        applications: ['applicationset:argocd/myapp'],
        deployedRevisions: [],
      },
    ]);
    expect(inv.unresolved).toEqual([
      {
        repoURL: '',
        where: 'applicationset argocd/guestbook-scm spec.generators[0].scmProvider',
        reason: 'scmProvider generator (github argoproj): repositories are discovered at runtime; only those of generated Applications are inventoried',
      },
      {
        repoURL: '{{ .url }}',
        where: 'applicationset argocd/guestbook-scm template',
        reason: 'templated repoURL: the repository is only known when the ApplicationSet generates Applications',
      },
      {
        repoURL: '',
        where: 'applicationset argocd/myapp spec.generators[0].pullRequest',
        reason: 'pullRequest generator (github myorg/myrepo at https://git.example.com/): Applications are generated per open pull request at runtime; their revisions are only known from the generated Applications',
      },
    ]);
    const text = JSON.stringify(inv);
    expect(text).not.toContain('github-token');
  });

  it('operator-manual/applicationset.yaml: excluded generator paths are not paths to check', () => {
    // from Argo CD: operator-manual/applicationset.yaml (trimmed)
    const inv = inventory(`
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: test-hello-world-appset
  namespace: argocd
spec:
  generators:
    - list:
        elements:
          - cluster: engineering-dev
            url: https://kubernetes.default.svc
            env: staging
        template:
          metadata: {}
          spec:
            project: "default"
            source:
              revision: HEAD
              repoURL: https://github.com/argoproj/argo-cd.git
              path: 'applicationset/examples/template-override/{{cluster}}-override'
            destination: {}
    - git:
        repoURL: https://github.com/argoproj/argo-cd.git
        directories:
        - path: applicationset/examples/git-generator-directory/excludes/cluster-addons/*
        - path: applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook
          exclude: true # Exclude directory when generating parameters
        files:
        - path: "applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json"
        - path: "applicationset/examples/git-generator-files-discovery/cluster-config/*/dev/config.json"
          exclude: true # Exclude file when generating parameters
        revision: HEAD
        requeueAfterSeconds: 60
        template:
        pathParamPrefix: myRepo
        values:
          cluster: '{{.path.basename}}'
    - scmProvider:
        cloneProtocol: ssh
        github:
          organization: myorg
          api: https://git.example.com/
          allBranches: true
          tokenRef:
            secretName: github-token
            key: token
          appSecretName: gh-app-repo-creds
        gitlab:
        filters:
        - repositoryMatch: ^myapp
`);
    expect(inv.git).toEqual([{
      repoURL: 'https://github.com/argoproj/argo-cd.git',
      normalizedURL: 'https://github.com/argoproj/argo-cd',
      repoURLs: ['https://github.com/argoproj/argo-cd.git'],
      // The list generator's template writes `revision:` (not targetRevision), so Argo CD's default HEAD applies.
      revisions: ['HEAD'],
      paths: [
        'applicationset/examples/git-generator-directory/excludes/cluster-addons/*',
        'applicationset/examples/git-generator-files-discovery/cluster-config/**/config.json',
      ],
      applications: ['applicationset:argocd/test-hello-world-appset'],
      deployedRevisions: [],
    }]);
    expect(inv.unresolved.map((u) => u.where)).toEqual(['applicationset argocd/test-hello-world-appset spec.generators[2].scmProvider']);
    expect(inv.unresolved[0]?.reason).toContain('github myorg at https://git.example.com/');
  });
});

describe('hand-written cases', () => {
  it('git generators at any nesting of matrix and merge', () => {
    const appSet = {
      metadata: { name: 'nested', namespace: 'teams' },
      spec: {
        generators: [{
          merge: {
            mergeKeys: ['cluster'],
            generators: [
              { git: { repoURL: 'https://git.example.com/a.git', revision: 'main', directories: [{ path: 'apps/*' }] } },
              {
                matrix: {
                  generators: [
                    { git: { repoURL: 'https://git.example.com/b', revision: '', files: [{ path: 'envs/*.yaml' }] } },
                    {
                      merge: {
                        generators: [
                          { matrix: { generators: [{ git: { repoURL: 'git@git.example.com:c.git', revision: 'v1.*', directories: [{ path: 'x' }] } }] } },
                          { git: { repoURL: '{{ .repoURL }}', revision: 'main' } },
                          { git: { repoURL: 'https://git.example.com/a', revision: '{{ .branch }}' } },
                        ],
                      },
                    },
                  ],
                },
              },
            ],
          },
        }],
      },
    };
    const inv = inventorySources([], [appSet]);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.applications])).toEqual([
      ['git@git.example.com/c', ['v1.*'], ['x'], ['applicationset:teams/nested']],
      ['https://git.example.com/a', ['main'], ['apps/*'], ['applicationset:teams/nested']],
      ['https://git.example.com/b', ['HEAD'], ['envs/*.yaml'], ['applicationset:teams/nested']],
    ]);
    expect(inv.git[1]?.repoURLs).toEqual(['https://git.example.com/a', 'https://git.example.com/a.git']);
    const where = 'applicationset teams/nested spec.generators[0].merge.generators[1].matrix.generators[1].merge.generators';
    expect(inv.unresolved).toEqual([
      {
        repoURL: '{{ .repoURL }}',
        where: `${where}[1].git`,
        reason: 'templated repoURL: the repository is only known when the ApplicationSet generates Applications',
      },
      {
        repoURL: 'https://git.example.com/a',
        where: `${where}[2].git`,
        reason: 'git generator uses values only known when it runs: revision {{ .branch }}',
      },
    ]);
  });

  it('one repository written differently is one GitSource; SSH and HTTPS stay apart as in Argo CD', () => {
    const apps = [
      { metadata: { name: 'a', namespace: 'argocd' }, spec: { source: { repoURL: 'https://GitHub.com/Org/Repo.git', path: 'a', targetRevision: '' } } },
      { metadata: { name: 'b', namespace: 'team' }, spec: { source: { repoURL: 'https://github.com/Org/Repo', path: 'b', targetRevision: 'main' } } },
      { metadata: { name: 'c' }, spec: { source: { repoURL: ' https://github.com/org/repo/ ', path: 'c' } } },
      { metadata: { name: 'd' }, spec: { source: { repoURL: 'git@github.com:Org/Repo.git', path: 'd', targetRevision: 'v1' } } },
      { metadata: { name: 'e' }, spec: { source: { repoURL: 'ssh://git@github.com/org/repo', path: 'e' } } },
    ];
    const inv = inventorySources(apps, [], { defaultNamespace: 'gitops' });
    expect(inv.git).toEqual([
      {
        repoURL: 'git@github.com:Org/Repo.git',
        normalizedURL: 'git@github.com/org/repo',
        repoURLs: ['git@github.com:Org/Repo.git', 'ssh://git@github.com/org/repo'],
        revisions: ['HEAD', 'v1'],
        paths: ['d', 'e'],
        applications: ['gitops/d', 'gitops/e'],
        deployedRevisions: [],
      },
      {
        repoURL: 'https://GitHub.com/Org/Repo.git',
        normalizedURL: 'https://github.com/org/repo',
        repoURLs: [' https://github.com/org/repo/ ', 'https://GitHub.com/Org/Repo.git', 'https://github.com/Org/Repo'],
        revisions: ['HEAD', 'main'],
        paths: ['a', 'b', 'c'],
        applications: ['argocd/a', 'gitops/c', 'team/b'],
        deployedRevisions: [],
      },
    ]);
  });

  it('deployed revisions from status.sync and status.history, mapped by each record\'s own sources', () => {
    const values = 'https://git.example.com/org/values.git';
    const app = {
      metadata: { name: 'multi', namespace: 'argocd' },
      spec: {
        sources: [
          { repoURL: 'https://charts.example.com', chart: 'app', targetRevision: '1.2.3' },
          { repoURL: values, targetRevision: 'main', ref: 'values' },
          { repoURL: 'https://git.example.com/org/app', targetRevision: 'v2', path: 'deploy' },
        ],
      },
      status: {
        sync: {
          status: 'Synced',
          comparedTo: { sources: [{ repoURL: 'https://charts.example.com', chart: 'app' }, { repoURL: values }, { repoURL: 'https://git.example.com/org/app' }] },
          revisions: ['1.2.3', 'a'.repeat(40), 'b'.repeat(40)],
        },
        history: [
          // Recorded before the sources were reordered: the history entry's own sources say which is which.
          {
            id: 1,
            sources: [{ repoURL: 'https://git.example.com/org/app' }, { repoURL: 'https://charts.example.com', chart: 'app' }, { repoURL: values }],
            revisions: ['c'.repeat(40), '1.2.2', 'd'.repeat(40)],
          },
          // No sources recorded: the current ones, by index.
          { id: 2, revisions: ['1.2.3', 'e'.repeat(40), 'f'.repeat(40), 'extra'] },
          // A repository the Application no longer uses.
          { id: 3, source: { repoURL: 'https://git.example.com/org/old' }, revision: '0'.repeat(40) },
          { id: 4, revisions: [null, 7, ''] },
          'not an entry',
        ],
      },
    };
    const single = {
      metadata: { name: 'single', namespace: 'argocd' },
      spec: { source: { repoURL: 'https://git.example.com/org/app.git', path: 'deploy', targetRevision: 'HEAD' } },
      status: {
        sync: { revision: '1'.repeat(40) },
        history: [{ revision: '2'.repeat(40), source: { repoURL: 'https://git.example.com/org/app.git' } }, { revision: '3'.repeat(40) }],
      },
    };
    const inv = inventorySources([app, single], []);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.applications, g.deployedRevisions])).toEqual([
      ['https://git.example.com/org/app', ['HEAD', 'v2'], ['deploy'], ['argocd/multi', 'argocd/single'],
        ['1'.repeat(40), '2'.repeat(40), '3'.repeat(40), 'b'.repeat(40), 'c'.repeat(40), 'f'.repeat(40)]],
      ['https://git.example.com/org/values', ['main'], [], ['argocd/multi'], ['a'.repeat(40), 'd'.repeat(40), 'e'.repeat(40)]],
    ]);
    expect(inv.notMirrored.map((n) => [n.repoURL, n.kind, n.applications])).toEqual([['https://charts.example.com', 'helm', ['argocd/multi']]]);
    // Per Application and source: chart versions (index 0, and 1 in history id 1) nowhere; a history revision whose
    // index now holds another repository goes to the Application's source in its own repository.
    expect(inv.git.map((g) => g.deployedBy)).toEqual([
      [
        { application: 'argocd/multi', field: 'spec.sources[2]', revisions: ['b'.repeat(40), 'c'.repeat(40), 'f'.repeat(40)] },
        { application: 'argocd/single', field: 'spec.source', revisions: ['1'.repeat(40), '2'.repeat(40), '3'.repeat(40)] },
      ],
      [{ application: 'argocd/multi', field: 'spec.sources[1]', revisions: ['a'.repeat(40), 'd'.repeat(40), 'e'.repeat(40)] }],
    ]);
  });

  it('deployed revisions per Application: two Applications on one repository each keep their own', () => {
    const app = (name: string, revision: string, history: string) => ({
      metadata: { name, namespace: 'argocd' },
      spec: { source: { repoURL: 'https://git.example.com/org/app.git', path: name, targetRevision: 'main' } },
      status: { sync: { revision }, history: [{ revision: history }] },
    });
    const quiet = { metadata: { name: 'quiet', namespace: 'argocd' }, spec: { source: { repoURL: 'https://git.example.com/org/app.git', path: 'q' } } };
    const [git] = inventorySources([app('a', '1'.repeat(40), '2'.repeat(40)), app('b', '3'.repeat(40), '1'.repeat(40)), quiet], []).git;
    expect(git!.deployedRevisions).toEqual(['1'.repeat(40), '2'.repeat(40), '3'.repeat(40)]);
    expect(git!.deployedBy).toEqual([
      { application: 'argocd/a', field: 'spec.source', revisions: ['1'.repeat(40), '2'.repeat(40)] },
      { application: 'argocd/b', field: 'spec.source', revisions: ['1'.repeat(40), '3'.repeat(40)] },
    ]);
  });

  it('deployed revisions of a hydrator: sync and history in the sync repository, drySHA in the dry one', () => {
    const app = {
      metadata: { name: 'hydrated', namespace: 'argocd' },
      spec: {
        sourceHydrator: {
          drySource: { repoURL: 'https://git.example.com/dry.git', targetRevision: 'main', path: 'apps/x' },
          syncSource: { repoURL: 'https://git.example.com/rendered.git', targetBranch: 'env/prod', path: 'x' },
          hydrateTo: { targetBranch: 'env/prod-next' },
        },
      },
      status: {
        sync: { revision: '1'.repeat(40) },
        history: [{ revision: '2'.repeat(40), source: { repoURL: 'https://git.example.com/rendered.git', targetRevision: 'env/prod', path: 'x' } }],
        sourceHydrator: {
          lastSuccessfulOperation: { drySHA: 'a'.repeat(40), hydratedSHA: 'b'.repeat(40) },
          currentOperation: { phase: 'Hydrating', drySHA: 'c'.repeat(40) },
        },
      },
    };
    const inv = inventorySources([app], []);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths, g.deployedRevisions])).toEqual([
      ['https://git.example.com/dry', ['main'], ['apps/x'], ['a'.repeat(40)]],
      ['https://git.example.com/rendered', ['env/prod', 'env/prod-next'], ['x'], ['1'.repeat(40), '2'.repeat(40), 'b'.repeat(40)]],
    ]);
    expect(inv.git.map((g) => g.deployedBy)).toEqual([
      [{ application: 'argocd/hydrated', field: 'spec.sourceHydrator.drySource', revisions: ['a'.repeat(40)] }],
      [{ application: 'argocd/hydrated', field: 'spec.sourceHydrator.syncSource', revisions: ['1'.repeat(40), '2'.repeat(40), 'b'.repeat(40)] }],
    ]);
  });

  it('templated URLs in ApplicationSet templates are unresolved; templated revisions and paths there are left to the generated Applications', () => {
    const appSet = {
      metadata: { name: 'templated' },
      spec: {
        template: {
          spec: {
            sources: [
              { repoURL: 'https://github.com/{{.org}}/config.git', targetRevision: 'main', ref: 'cfg' },
              { repoURL: 'https://github.com/acme/base.git', targetRevision: '{{.branch}}', path: 'clusters/{{.name}}' },
              { repoURL: 'oci://ghcr.io/acme/{{.chart}}' },
            ],
            sourceHydrator: {
              drySource: { repoURL: 'https://github.com/acme/dry', targetRevision: 'HEAD', path: '.' },
              syncSource: { repoURL: '{{.renderedRepo}}', targetBranch: 'env/{{.env}}', path: '{{.name}}' },
            },
          },
        },
        templatePatch: '{{- if .autoSync }}\nspec:\n  sources:\n  - repoURL: {{ .extra }}\n{{- end }}',
      },
    };
    const inv = inventorySources([], [appSet]);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths])).toEqual([
      ['https://github.com/acme/base', [], []],
      ['https://github.com/acme/dry', ['HEAD'], ['.']],
    ]);
    expect(inv.unresolved).toEqual([
      { repoURL: 'https://github.com/{{.org}}/config.git', where: 'applicationset argocd/templated template', reason: 'templated repoURL: the repository is only known when the ApplicationSet generates Applications' },
      { repoURL: 'oci://ghcr.io/acme/{{.chart}}', where: 'applicationset argocd/templated template', reason: 'templated repoURL: the repository is only known when the ApplicationSet generates Applications' },
      { repoURL: '{{.renderedRepo}}', where: 'applicationset argocd/templated template', reason: 'templated repoURL: the repository is only known when the ApplicationSet generates Applications' },
      { repoURL: '', where: 'applicationset argocd/templated templatePatch', reason: 'templatePatch can set sources when Applications are generated; the generated Applications carry the result' },
    ]);
  });

  it('a templated value left in an Application itself is reported', () => {
    const inv = inventorySources([{
      metadata: { name: 'half-rendered' },
      spec: { source: { repoURL: 'https://github.com/acme/app', targetRevision: '{{.branch}}', path: '{{.path}}' } },
    }], []);
    expect(inv.git.map((g) => [g.normalizedURL, g.revisions, g.paths])).toEqual([['https://github.com/acme/app', [], []]]);
    expect(inv.unresolved.map((u) => u.reason)).toEqual(['templated path {{.path}}', 'templated revision {{.branch}}']);
  });

  it('spec.source is ignored when spec.sources is non-empty, as Argo CD does', () => {
    const inv = inventorySources([{
      metadata: { name: 'both' },
      spec: {
        source: { repoURL: 'https://github.com/acme/left-over', path: 'x' },
        sources: [{ repoURL: 'https://github.com/acme/used', path: 'y' }],
      },
    }], []);
    expect(inv.git.map((g) => g.normalizedURL)).toEqual(['https://github.com/acme/used']);
    expect(inv.unresolved).toEqual([{
      repoURL: 'https://github.com/acme/left-over',
      where: 'application argocd/both spec.source',
      reason: 'ignored by Argo CD because spec.sources is not empty; not inventoried',
    }]);
  });

  it('never throws on odd shapes, and says why a present repoURL was not used', () => {
    const cyclic: Record<string, unknown> = { git: { repoURL: 'https://git.example.com/loop', revision: 'main' } };
    cyclic.matrix = { generators: [cyclic] };
    const deep: Record<string, unknown> = { git: { repoURL: 'https://git.example.com/deep', revision: 'main' } };
    let top = deep;
    for (let i = 0; i < 40; i++) top = { matrix: { generators: [{ list: {} }, top] } };
    const apps: unknown[] = [
      null, 42, 'x', [], {}, { spec: 'bad' }, { metadata: 'bad', spec: { source: 'bad', sources: 'bad' } },
      { metadata: { name: 'n1' }, spec: { source: { repoURL: 42 } } },
      { metadata: { name: 'n2' }, spec: { source: { repoURL: ' ', chart: 'chart-without-repo' } } },
      { metadata: { name: 'n3' }, spec: { source: { repoURL: 'ssh://git@github.com:org/repo' } } },
      { metadata: { name: 'n4' }, spec: { sources: [null, 'x', { path: 'no-url' }, { repoURL: 'https://git.example.com/ok', targetRevision: 5 }] } },
      { metadata: { name: 'n5' }, spec: { sourceHydrator: { drySource: 'bad', syncSource: { targetBranch: 'x' }, hydrateTo: 'bad' } } },
      { metadata: { name: 'n6' }, spec: { source: { repoURL: 'https://git.example.com/ok' } }, status: { sync: 'bad', history: { 0: 'x' }, sourceHydrator: [] } },
    ];
    const appSets: unknown[] = [
      null, { spec: { generators: 'bad', template: 'bad' } },
      { metadata: { name: 's1' }, spec: { generators: [null, 1, { matrix: { generators: 'bad' } }, { merge: null }, { git: { repoURL: ['x'] } }, cyclic, top] } },
      { metadata: { name: 's2' }, spec: { generators: [{ git: { repoURL: 'https://git.example.com/g', revision: 3, directories: 'bad', files: [null, { path: 7 }] } }] } },
    ];
    let inv: SourceInventory | undefined;
    expect(() => { inv = inventorySources(apps as object[], appSets as object[]); }).not.toThrow();
    expect(inventorySources(undefined as unknown as object[], null as unknown as object[])).toEqual({ git: [], notMirrored: [], unresolved: [] });
    expect(inv?.git.map((g) => [g.normalizedURL, g.revisions])).toEqual([
      ['https://git.example.com/g', []],
      ['https://git.example.com/loop', ['main']],
      ['https://git.example.com/ok', ['HEAD']],
    ]);
    expect(inv?.unresolved.map((u) => [u.where, u.repoURL, u.reason])).toEqual([
      ['application argocd/n1 spec.source', '42', 'repoURL is not a string'],
      ['application argocd/n2 spec.source', ' ', 'repoURL is empty'],
      ['application argocd/n3 spec.source', 'ssh://git@github.com:org/repo', 'repoURL is not a valid URL (Argo CD cannot normalise it either)'],
      ['application argocd/n4 spec.sources[3]', 'https://git.example.com/ok', 'revision 5 is not a string'],
      ['applicationset argocd/s1 spec.generators[4].git', '["x"]', 'repoURL is not a string'],
      ['applicationset argocd/s1 spec.generators[6]' + '.matrix.generators[1]'.repeat(15) + '.matrix', '', 'generators nested deeper than 16 levels were not inspected'],
      ['applicationset argocd/s2 spec.generators[0].git', 'https://git.example.com/g', 'revision 3 is not a string'],
    ]);
  });

  it('is deterministic: same input, same bytes; lists sorted and deduplicated', () => {
    const apps = Array.from({ length: 50 }, (_, i) => ({
      metadata: { name: `app-${(i * 7) % 50}`, namespace: i % 2 ? 'b' : 'a' },
      spec: { sources: [
        { repoURL: `https://git.example.com/repo-${i % 5}.git`, targetRevision: `rel-${i % 3}`, path: `p/${i % 4}` },
        { repoURL: `https://git.example.com/repo-${(i + 1) % 5}`, targetRevision: 'HEAD', ref: 'v' },
      ] },
      status: { sync: { revisions: [String(i % 2).repeat(40), String(i % 3).repeat(40)] } },
    }));
    const first = JSON.stringify(inventorySources(apps, []));
    expect(JSON.stringify(inventorySources(apps, []))).toBe(first);
    const inv = JSON.parse(first) as SourceInventory;
    expect(inv.git.map((g) => g.normalizedURL)).toEqual([0, 1, 2, 3, 4].map((n) => `https://git.example.com/repo-${n}`));
    for (const g of inv.git) {
      for (const list of [g.revisions, g.paths, g.applications, g.deployedRevisions, g.repoURLs]) {
        expect(list).toEqual([...new Set(list)].sort());
      }
    }
  });
});
