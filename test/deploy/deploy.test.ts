/**
 * Checks of the deployment artefacts that need no Docker, Kubernetes or GPU: the files parse,
 * point at files that exist, agree with the product's config schema and with the metric names
 * the telemetry code really exports. The chart is also rendered by helm (from .cache/tools/bin,
 * which `deploy/validate.sh --install` fills, or PATH; missing helm fails, it does not skip);
 * deploy/validate.sh runs the other external tools (kubeconform, hadolint, promtool, compose).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { buildConfig } from '../../src/plugin/config/load.js';
import { packageRoot } from '../../src/plugin/core/paths.js';

const root = packageRoot();
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
const yaml = (rel: string) => parseYaml(read(rel), { merge: true });
type Obj = Record<string, unknown>;

/** Prometheus series names the telemetry code exports (src/plugin/telemetry/metrics.ts). */
function exportedSeries(): Set<string> {
  const src = read('src/plugin/telemetry/metrics.ts') + read('src/plugin/telemetry/telemetry.ts');
  const out = new Set<string>();
  for (const [, kind, name] of src.matchAll(/create(Counter|Histogram|ObservableGauge|ObservableCounter)\('(\w+)'/g)) add(kind, name);
  for (const [, kind, name] of src.matchAll(/\b(gauge|counter)\('(\w+)'/g)) add(kind === 'gauge' ? 'ObservableGauge' : 'ObservableCounter', name);
  return out;
  function add(kind: string, name: string) {
    if (kind === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    else if (kind.endsWith('Counter')) out.add(name.endsWith('_total') ? name : `${name}_total`);
    else out.add(name);
  }
}
const seriesIn = (expr: string) => [...expr.matchAll(/\bdiffiqa_[a-z_]+/g)].map((m) => m[0]);

function deepMerge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? deepMerge(cur as Obj, v as Obj) : v;
  }
  return out;
}
const has = (obj: unknown, keys: string[]) => keys.reduce<unknown>((o, k) => (o && typeof o === 'object' && k in o ? (o as Obj)[k] : undefined), obj) !== undefined;

describe('docker-compose', () => {
  const compose = yaml('deploy/compose/docker-compose.yml') as { services: Record<string, Obj> };

  it('docker-compose.yml should mount only files that exist and build from existing Dockerfiles', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of (svc.volumes as string[] | undefined) ?? []) {
        const src = v.split(':')[0];
        if (src.startsWith('./')) expect(existsSync(path.join(root, 'deploy/compose', src)), `${name}: ${src}`).toBe(true);
      }
      const build = svc.build as { context: string; dockerfile: string } | undefined;
      if (build) expect(existsSync(path.join(root, 'deploy/compose', build.context, build.dockerfile)), `${name}: ${build.dockerfile}`).toBe(true);
    }
    const gpu = yaml('deploy/compose/docker-compose.gpu.yml') as { services: { escalation: Obj & { build: { context: string; dockerfile: string } } } };
    expect(existsSync(path.join(root, 'deploy/compose', gpu.services.escalation.build.context, gpu.services.escalation.build.dockerfile))).toBe(true);
    expect(JSON.stringify(gpu.services.escalation.deploy)).toContain('"driver":"nvidia"');
  });

  it('docker-compose.yml should give the gate and escalation configs the product accepts, drained within stop_grace_period', () => {
    for (const [name, command] of [['gate', 'run'], ['escalation', 'escalate']] as const) {
      const svc = compose.services[name];
      expect((svc.command as string[])[0]).toBe(command);
      const mount = (svc.volumes as string[]).find((v) => v.includes(':/etc/diffiqa-gate/config.yaml'));
      expect(mount, `${name} mounts its config`).toBeDefined();
      const env = svc.environment as Record<string, string>;
      const cfg = buildConfig(yaml(path.join('deploy/compose', mount!.split(':')[0])), env);
      expect(cfg.get('kafka.brokers')).toEqual(['kafka:9092']);
      expect(cfg.get('telemetry.metricsPort')).toBe(9464);
      expect(Number.parseInt(svc.stop_grace_period as string, 10) * 1000).toBeGreaterThan(cfg.get('shutdown.deadlineMs'));
    }
    const scraped = (yaml('deploy/compose/prometheus.yml') as { scrape_configs: { static_configs: { targets: string[] }[] }[] }).scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
    expect(scraped).toEqual(expect.arrayContaining(['gate:9464', 'escalation:9464']));
  });
});

describe('grafana dashboard', () => {
  const dash = JSON.parse(read('deploy/helm/diffiqa-gate/files/diffiqa-gate.json')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
  const panels = dash.panels.filter((p) => p.type !== 'row');

  it('diffiqa-gate.json should give every panel a query on a series the telemetry exports', () => {
    const series = exportedSeries();
    expect(series.size).toBeGreaterThan(10);
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.expr.trim(), p.title).not.toBe('');
        for (const s of seriesIn(t.expr)) expect(series.has(s), `${p.title}: ${s} is not exported by src/plugin/telemetry/metrics.ts`).toBe(true);
      }
    }
  });

  it('diffiqa-gate.json should have the panels the operators asked for', () => {
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const want of ['frames per decision', 'dlq per reason', 'stage latency p95', 'batch size', 'queue depth', 'consumer lag', 'score histogram', 'drift alerts']) {
      expect(titles).toContain(want);
    }
  });

  it('prometheus-rules.yml should alert only on series the telemetry exports, and on a target down or absent, DLQ share and lag', () => {
    const rules = (yaml('deploy/helm/diffiqa-gate/files/prometheus-rules.yml') as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const series = exportedSeries();
    for (const r of rules) for (const s of seriesIn(r.expr)) expect(series.has(s), s).toBe(true);
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.DiffiqaTargetDown).toMatch(/^up\{.*\} == 0$/);
    expect(byName.DiffiqaTargetAbsent).toMatch(/^absent\(up\{/);
    expect(byName.DiffiqaDeadLetters).toContain('diffiqa_dlq_total');
    expect(byName.DiffiqaConsumerLag).toContain('diffiqa_consumer_lag');
  });

  it('diffiqa-gate.json should count BORDERLINE apart from the final decisions, keep models apart, and repeat no panel', () => {
    const all = dash.panels as (typeof dash.panels[number] & { repeat?: string })[];
    expect(all.filter((p) => p.repeat)).toEqual([]);
    const frames = panels.find((p) => p.title.toLowerCase().startsWith('frames per decision'))!;
    expect(frames.targets!.map((t) => t.expr.match(/decision(!?=)"BORDERLINE"/)?.[1])).toEqual(['!=', '=']);
    for (const p of panels) for (const t of p.targets ?? []) if (t.expr.includes('diffiqa_score_bucket')) expect(t.expr, p.title).toContain('model="$model"');
  });
});

describe('helm chart', () => {
  const chart = 'deploy/helm/diffiqa-gate';
  const values = yaml(`${chart}/values.yaml`) as Obj & { config: Obj; gate: Obj & { config: Obj }; escalation: Obj & { config: Obj }; graceMarginSeconds: number };
  const templates = ['_helpers.tpl', '_deployment.tpl', 'configmap.yaml', 'deployment-gate.yaml', 'deployment-escalation.yaml', 'service.yaml', 'servicemonitor.yaml', 'scaledobject.yaml', 'pdb.yaml', 'serviceaccount.yaml', 'prometheusrule.yaml', 'dashboard-configmap.yaml']
    .map((f) => read(`${chart}/templates/${f}`)).join('\n');

  it('templates should only use values keys that values.yaml defines', () => {
    const used = [...templates.matchAll(/\.Values((?:\.[A-Za-z_]\w*)+)/g)].map((m) => m[1].slice(1).split('.'));
    expect(used.length).toBeGreaterThan(10);
    for (const keys of used) expect(has(values, keys), `.Values.${keys.join('.')}`).toBe(true);
    // $v is one component's values (gate or escalation): both must define what the shared templates read.
    const perComponent = [...templates.matchAll(/\$v((?:\.[A-Za-z_]\w*)+)/g)].map((m) => m[1].slice(1).split('.'));
    expect(perComponent.length).toBeGreaterThan(10);
    for (const keys of perComponent) for (const c of ['gate', 'escalation']) expect(has(values[c], keys), `${c}.${keys.join('.')}`).toBe(true);
  });

  it('values.yaml should render configs the product accepts, with the CUDA provider for escalation', () => {
    const gate = buildConfig(deepMerge(values.config, values.gate.config), {});
    const esc = buildConfig(deepMerge(values.config, values.escalation.config), {});
    expect(gate.get('telemetry.metricsPort')).toBeGreaterThan(0);
    expect(esc.get('inference.executionProviders')[0]).toBe('cuda');
    expect(has(values, ['escalation', 'gpu', 'resourceName'])).toBe(true);
    // The default grace period is the drain deadline plus a margin, so it always exceeds it.
    expect(values.graceMarginSeconds).toBeGreaterThan(0);
    expect(templates).toContain('must exceed shutdown.deadlineMs');
  });

  it('the chart should ship the rules and the dashboard from its files/, the same files the compose stack mounts', () => {
    expect(templates).toContain('.Files.Get "files/prometheus-rules.yml"');
    expect(templates).toContain('.Files.Get "files/diffiqa-gate.json"');
    expect(templates).toMatch(/if \.Values\.prometheusRule\.enabled/);
    const compose = read('deploy/compose/docker-compose.yml');
    expect(compose).toContain('../helm/diffiqa-gate/files/prometheus-rules.yml:/etc/prometheus/rules.yml');
    expect(compose).toContain('../helm/diffiqa-gate/files/diffiqa-gate.json:/var/lib/grafana/dashboards/diffiqa-gate.json');
  });

  it('templates should probe /healthz and /readyz and guard the CRDs behind flags', () => {
    expect(templates).toMatch(/livenessProbe:\s+httpGet: \{ path: \/healthz/);
    expect(templates).toMatch(/readinessProbe:\s+httpGet: \{ path: \/readyz/);
    expect(read(`${chart}/templates/servicemonitor.yaml`)).toMatch(/^\{\{- if \.Values\.serviceMonitor\.enabled \}\}/);
    expect(read(`${chart}/templates/scaledobject.yaml`)).toContain('$v.autoscaling.enabled');
  });
});

/** Whether a path is in the build context: .dockerignore lines in order, the last match wins (`!` re-includes). */
function dockerContext(ignore: string): (file: string) => boolean {
  const rules = ignore.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const include = l.startsWith('!');
    const pattern = (include ? l.slice(1) : l).replace(/\/$/, '');
    return { include, matches: (f: string) => pattern === '*' || f === pattern || f.startsWith(`${pattern}/`) };
  });
  return (file) => rules.reduce((kept, r) => (r.matches(file) ? r.include : kept), true);
}

describe('dockerfiles', () => {
  const allowlist = (file: string) => read(file).split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));

  it('Dockerfiles should install with the .npmrc CUDA skip and copy only existing, allowlisted paths', () => {
    expect(read('.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m);
    for (const file of ['deploy/docker/Dockerfile', 'deploy/docker/Dockerfile.cuda']) {
      const text = read(file);
      const allowed = allowlist(`${file}.dockerignore`);
      expect(text).toMatch(/COPY package\.json package-lock\.json \.npmrc \.\//);
      // The env variable install.js reads is set before npm ci too, in case npm stops passing .npmrc keys on.
      expect(text.indexOf('ENV ONNXRUNTIME_NODE_INSTALL=skip')).toBeGreaterThan(-1);
      expect(text.indexOf('ENV ONNXRUNTIME_NODE_INSTALL=skip')).toBeLessThan(text.indexOf('npm ci'));
      const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1].trim().split(/\s+/).slice(0, -1));
      expect(copies.length).toBeGreaterThan(3);
      for (const src of copies.flat()) {
        expect(existsSync(path.join(root, src)), `${file}: COPY ${src}`).toBe(true);
        expect(allowed.some((a) => src === a || src.startsWith(`${a}/`) || a.startsWith(`${src}/`)), `${file}: ${src} is excluded by its .dockerignore`).toBe(true);
      }
      const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin['diffiqa-gate'];
      // The gate's node flags sit between node and the script (test/plugin/core/node-flags.test.ts checks which).
      expect(text).toMatch(new RegExp(`^ENTRYPOINT \\["node", (?:"--[^"]+", )*"${bin.replace(/[.]/g, '\\.')}"\\]$`, 'm'));
      expect(text).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
      expect(text).toMatch(/^USER 10001/m);
    }
  });

  it('the Docker build context should hold no tools, and the product should build from it alone', () => {
    const tracked = spawnSync('git', ['ls-files', 'src'], { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    // The product's program: every source file tsc reads for tsconfig.product.json (npm run build:product in the images).
    const listed = spawnSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.product.json', '--listFilesOnly'], { cwd: root, encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    const program = listed.stdout.split('\n').map((f) => path.relative(root, f.trim())).filter((f) => f.startsWith('src/'));
    expect(program).toContain('src/plugin/cli/bin.ts');
    for (const file of ['deploy/docker/Dockerfile', 'deploy/docker/Dockerfile.cuda']) {
      const inContext = dockerContext(read(`${file}.dockerignore`));
      const shipped = tracked.filter(inContext);
      expect(shipped.filter((f) => f.startsWith('src/tools/')), file).toEqual([]);
      expect(program.filter((f) => !inContext(f)), `${file}: the product imports files left out of the context`).toEqual([]);
    }
  });

  it('Dockerfile.cuda should put the provider files where onnxruntime-node installs them', () => {
    const text = read('deploy/docker/Dockerfile.cuda');
    const target = text.match(/COPY --from=ort-cuda \/providers\/ \.\/(\S+)/)?.[1];
    expect(target).toBeDefined();
    expect(existsSync(path.join(root, target!, 'libonnxruntime.so.1')), `${target} holds the core library`).toBe(true);
  });
});

describe('cuda-ep.sh', () => {
  it('cuda-ep.sh should install the provider files install.js names for linux/x64', () => {
    const require = createRequire(import.meta.url);
    const meta = require(path.join(root, 'node_modules/onnxruntime-node/script/install-metadata.js')) as { manifests: Record<string, Record<string, unknown>> };
    const names = Object.keys(meta.manifests['linux/x64:cuda12']).map((f) => path.basename(f));
    const script = read('deploy/gpu/cuda-ep.sh');
    const installed = script.match(/^PROVIDERS=\(([^)]*)\)/m)?.[1].split(/\s+/).filter(Boolean) ?? [];
    expect(installed.length).toBe(2);
    for (const f of installed) expect(names).toContain(f);
    // TensorRT's provider is the one install.js file left out on purpose (it needs TensorRT libraries).
    expect(names.filter((n) => !installed.includes(n))).toEqual(['libonnxruntime_providers_tensorrt.so']);
  });

  it('cuda-ep.sh status should exit 3 and name the missing files when the provider is not installed', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'cuda-ep-'));
    const r = spawnSync('bash', ['deploy/gpu/cuda-ep.sh', 'status'], { cwd: root, encoding: 'utf8', env: { ...process.env, ORT_CUDA_DIR: tmp, ORT_NODE_DIR: path.join(root, 'node_modules/onnxruntime-node') } });
    const providersThere = existsSync(path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));
    expect(r.status).toBe(providersThere ? 0 : 3);
    expect(r.stderr).toContain(providersThere ? 'installed: libonnxruntime_providers_cuda.so' : 'missing:   libonnxruntime_providers_cuda.so');
  });
});

describe('gpu check', () => {
  it('check.mjs --cpu-only should print a table and write a JSON report with CPU rows', () => {
    const dist = path.join(root, 'dist/src/tools/bench/diffusion-throughput.js');
    expect(existsSync(dist), 'dist/ missing: run npm run build (npm test does)').toBe(true);
    const json = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpu-check-')), 'report.json');
    const r = spawnSync(process.execPath, ['deploy/gpu/check.mjs', '--cpu-only', '--cpu-images', '1', '--batch-sizes', '20', '--repeats', '1', '--json', json], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| cpu \| cpu \| 20 \| 1 \|/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { ok: boolean; cudaProbe: unknown; rows: { device: string; batchSize: number; msPerImage: number; meanScore: number }[] };
    expect(report.ok).toBe(true);
    expect(report.cudaProbe).toBeNull();
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({ device: 'cpu', batchSize: 20 });
    expect(report.rows[0].msPerImage).toBeGreaterThan(0);
    expect(report.rows[0].meanScore).toBeGreaterThan(0);
  });
});

describe('thresholds as shipped', () => {
  const defaults = buildConfig({}, {});
  const keys = ['gate.accept', 'gate.reject', 'escalation.accept', 'escalation.reject'] as const;
  const chart = 'deploy/helm/diffiqa-gate';
  const values = yaml(`${chart}/values.yaml`) as Obj & { config: Obj; gate: Obj & { config: Obj }; escalation: Obj & { config: Obj } };
  const compose = yaml('deploy/compose/docker-compose.yml') as { services: Record<string, { environment?: Record<string, string>; volumes?: string[] }> };
  const rendered: [string, Obj, Record<string, string>][] = [
    ['helm gate', deepMerge(values.config, values.gate.config), {}],
    ['helm escalation', deepMerge(values.config, values.escalation.config), {}],
    ...(['gate', 'escalation'] as const).map((name): [string, Obj, Record<string, string>] => {
      const svc = compose.services[name];
      const mount = svc.volumes!.find((v) => v.includes(':/etc/diffiqa-gate/config.yaml'))!;
      return [`compose ${name}`, yaml(path.join('deploy/compose', mount.split(':')[0])) as Obj, svc.environment ?? {}];
    }),
  ];

  it.each(rendered)('%s should set no threshold and so run on the calibrated config defaults', (_name, file, env) => {
    for (const k of keys) expect(has(file, k.split('.')), k).toBe(false);
    expect(Object.keys(env).filter((k) => /ACCEPT|REJECT/.test(k))).toEqual([]);
    const cfg = buildConfig(file, env);
    for (const k of keys) expect(cfg.get(k), k).toBe(defaults.get(k));
  });
});

describe('helm templates (without helm)', () => {
  const dir = path.join(root, 'deploy/helm/diffiqa-gate/templates');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|tpl)$/.test(f));

  /** Opening and closing actions balance in every template, and every include names a defined template. */
  it.each(files)('%s should balance its if/range/with/define blocks and include only defined templates', (file) => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const actions = [...text.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/gs)].map((m) => m[1]).filter((a) => !a.startsWith('/*'));
    let depth = 0;
    for (const a of actions) {
      if (/^(if|range|with|define|block)\b/.test(a)) depth++;
      else if (/^end\b/.test(a)) depth--;
      expect(depth, `${file}: "{{ ${a} }}" closes more than it opened`).toBeGreaterThanOrEqual(0);
    }
    expect(depth, `${file}: unclosed blocks`).toBe(0);
    const defined = new Set(files.flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/define "([^"]+)"/g)].map((m) => m[1])));
    for (const [, name] of text.matchAll(/(?:include|template) "([^"]+)"/g)) expect(defined.has(name), `${file}: ${name}`).toBe(true);
  });
});

/** helm as deploy/validate.sh finds it: .cache/tools/bin (validate.sh --install), then PATH. */
function helmBin(): string {
  const cached = path.join(root, '.cache/tools/bin/helm');
  if (existsSync(cached)) return cached;
  const found = spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('helm is missing: deploy/validate.sh --install builds it into .cache/tools/bin (Go module proxy), or put helm v3 on PATH');
  return found;
}

describe('helm template (rendered by helm)', () => {
  const chart = 'deploy/helm/diffiqa-gate';
  const render = (...sets: string[]) => {
    const r = spawnSync(helmBin(), ['template', 'd', chart, '--kube-version', '1.33.0', ...sets.flatMap((s) => ['--set', s])], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj & { kind: string; data?: Record<string, string>; spec?: Obj }).filter(Boolean);
  };

  it('the rendered configs should leave the thresholds to the calibrated defaults, and the rules and dashboard be the shared files', () => {
    const docs = render('prometheusRule.enabled=true', 'grafanaDashboard.enabled=true', 'serviceMonitor.enabled=true');
    const defaults = buildConfig({}, {});
    const configs = docs.filter((d) => d.kind === 'ConfigMap' && d.data?.['gate.yaml']).flatMap((d) => ['gate.yaml', 'escalation.yaml'].map((k) => parseYaml(d.data![k]) as Obj));
    expect(configs).toHaveLength(2);
    for (const c of configs) {
      const cfg = buildConfig(c, {});
      for (const k of ['gate.accept', 'gate.reject', 'escalation.accept', 'escalation.reject'] as const) {
        expect(has(c, k.split('.')), k).toBe(false);
        expect(cfg.get(k), k).toBe(defaults.get(k));
      }
    }
    const rule = docs.find((d) => d.kind === 'PrometheusRule')!;
    expect(rule.spec).toEqual(yaml(`${chart}/files/prometheus-rules.yml`));
    const dashboard = docs.find((d) => d.kind === 'ConfigMap' && d.data?.['diffiqa-gate.json'])!;
    expect(JSON.parse(dashboard.data!['diffiqa-gate.json'])).toEqual(JSON.parse(read(`${chart}/files/diffiqa-gate.json`)));
    expect(render().map((d) => d.kind)).not.toContain('PrometheusRule');
  });
});

describe('deploy/validate.sh', () => {
  it('validate.sh should run every static check and pass, nothing skipped (tools: deploy/validate.sh --install)', () => {
    const r = spawnSync('bash', ['deploy/validate.sh'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^ran \d+, failed 0, skipped 0$/m);
  }, 300_000);
});
