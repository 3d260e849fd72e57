/**
 * Import rules of STYLE.md, checked by `npm run lint` (npm run deps:check). Arrows point down:
 * cli → app → gate/pipeline/escalation → stages → inference/face/kafka → core; the product
 * (src/plugin, src/schemas, src/index.ts) never imports the CLI or the tools; each third-party client
 * stays behind its adapter. Type-only imports count: a circle through types is still a circle.
 * The Python tools (models/) are not covered: dependency-cruiser reads JavaScript and TypeScript only.
 */
const product = '^src/(index[.]ts|plugin/|schemas/)';
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import circles (STYLE.md: arrows point down).', from: {}, to: { circular: true } },
    { name: 'product-not-to-tools', severity: 'error', comment: 'src/tools is built on the product, never imported by it. The CLI is the tools\' entry: it loads their commands by a computed path, so that the product builds and ships without them.', from: { path: product, pathNot: '^src/plugin/cli/(evaluate|calibrate)[.]ts$' }, to: { path: '^src/tools/' } },
    { name: 'telemetry-is-a-plugin', severity: 'error', comment: 'The product does not import telemetry; telemetry plugs into the apps (the CLI starts it).', from: { path: product, pathNot: '^src/plugin/(telemetry|cli)/' }, to: { path: '^src/plugin/telemetry/' } },
    { name: 'product-not-to-cli', severity: 'error', comment: 'Only the CLI imports the CLI; wiring lives in src/plugin/app.', from: { path: product, pathNot: '^src/plugin/cli/' }, to: { path: '^src/plugin/cli/' } },
    { name: 'platformatic-in-adapter', severity: 'error', comment: '@platformatic/kafka only in its adapter (src/plugin/kafka/platformatic-*).', from: { path: '^src/', pathNot: '^src/plugin/kafka/platformatic-[^/]*[.]ts$' }, to: { path: '(^|/)node_modules/@platformatic/kafka/' } },
    { name: 'kafkajs-in-adapter', severity: 'error', comment: 'kafkajs only in its adapter (src/plugin/kafka/kafkajs-*).', from: { path: '^src/', pathNot: '^src/plugin/kafka/kafkajs[^/]*[.]ts$' }, to: { path: '(^|/)node_modules/kafkajs/' } },
    { name: 'opentelemetry-in-telemetry', severity: 'error', comment: 'OpenTelemetry only under src/plugin/telemetry.', from: { path: '^src/', pathNot: '^src/plugin/telemetry/' }, to: { path: '(^|/)node_modules/@opentelemetry/' } },
    { name: 'fastify-in-serve', severity: 'error', comment: 'The HTTP framework only behind the scoring endpoint.', from: { path: '^src/', pathNot: '^src/plugin/serve/' }, to: { path: '(^|/)node_modules/fastify/' } },
    { name: 'worker-threads-in-inference', severity: 'error', comment: 'The product runs threads only through the inference pool.', from: { path: product, pathNot: '^src/plugin/inference/' }, to: { path: '^worker_threads$|^node:worker_threads$' } },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
