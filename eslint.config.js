import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'models/', '.cache/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // kafkajs and OpenTelemetry stay behind their adapters (STYLE.md).
      'no-restricted-imports': ['error', { patterns: [
        { group: ['kafkajs'], message: 'kafkajs is imported only under src/plugin/kafka/' },
        { group: ['@opentelemetry/*'], message: 'OpenTelemetry is imported only under src/plugin/telemetry/' },
      ] }],
    },
  },
  { files: ['src/plugin/kafka/**'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['src/plugin/telemetry/**', 'test/**', 'examples/**'], rules: { 'no-restricted-imports': 'off' } },
);
