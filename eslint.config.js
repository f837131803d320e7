// Flat ESLint config: typed rules from typescript-eslint plus the layer rules of
// ARCHITECTURE.md, expressed as import restrictions per folder.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const FEATURE_ENGINE = ['#libs/features'];
const BILLING = ['#libs/billing', '#libs/metering'];
const noApps = { group: ['**/apps/**', '../../apps/*', '#apps/*'], message: 'libs never import apps' };
const noDeepLibImports = { regex: '^(#libs/[^/]+/.+|.*/libs/[^/]+/src/.+)$', message: 'import a lib only through its index: #libs/<name>' };
const layer = (forbidden, why) => forbidden.map((name) => ({ name, message: why }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'libs/db/src/generated/**', 'coverage/**', '.stratum/**', 'apps/dashboard/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', '*.mjs', 'scripts/*.mjs', 'test/support/*.cjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration through #libs/config (AppConfig)' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='forwardRef']", message: 'no forwardRef: a cycle means the design needs a fix' }],
      'no-restricted-imports': ['error', { patterns: [noDeepLibImports] }],
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' }, languageOptions: { globals: { require: 'readonly', module: 'writable', globalThis: 'readonly' } } },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  // The one reader of process.env, and tool configs that the Prisma CLI reads on its own.
  { files: ['libs/config/src/env.ts', 'prisma.config.ts', 'scripts/*.mjs'], rules: { 'no-restricted-properties': 'off' } },
  // Layers.
  {
    files: ['libs/**/*.ts'],
    ignores: ['libs/features/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: layer(FEATURE_ENGINE, 'Infra and Model Service libs never import the Feature Engine'), patterns: [noApps, noDeepLibImports] }],
    },
  },
  {
    files: ['libs/models/**/*.ts', 'libs/batching/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: layer([...FEATURE_ENGINE, ...BILLING], 'Model Service never imports the Feature Engine or billing'), patterns: [noApps, noDeepLibImports] }],
    },
  },
  { files: ['libs/features/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noApps, noDeepLibImports] }] } },
  // Tests may use loose typing on parsed JSON bodies.
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-unsafe-call': 'off', '@typescript-eslint/no-unsafe-return': 'off', '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
