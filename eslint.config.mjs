// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/out/**', 'dist/**', 'node_modules/**', '.cache/**', 'test/artifacts/**', '*.vsix'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The language core is pure: no LSP, no model, no Node I/O. Everything it
    // needs from those worlds comes in as plain data (TokenizerView, DataSetSummary).
    files: ['server/src/language/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['vscode-languageserver*', 'vscode-languageclient*', 'vscode'],
              message: 'The language core must not depend on LSP; convert in server/src/lsp.',
            },
            { group: ['@xenova/transformers', 'onnxruntime-*'], message: 'The language core must not load models; take a TokenizerView.' },
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'worker_threads'],
              message: 'The language core does no I/O; the service layer reads files.',
            },
            {
              group: ['../model/*', '../lsp/*', '../service/*', '../cli/*'],
              message: 'The core is the bottom layer: it imports nothing above it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
);
