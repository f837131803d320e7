// Flat ESLint config: typed rules from typescript-eslint plus the layer rules of
// ARCHITECTURE.md, expressed as import restrictions per folder.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers and what each may import (docs/ARCHITECTURE.md): one list, one rule per layer.
const LAYERS = {
  infra: ['infra'],
  platform: ['infra', 'platform'],
  'model-service': ['infra', 'model-service'],
  'feature-engine': ['infra', 'model-service', 'feature-engine'],
};
const noApps = { regex: '^(#apps/|.*/apps/)', message: 'libs never import apps' };
// (regex, not gitignore-style groups: a leading `#` there is a comment)
const noTools = { regex: '^(#tools/|.*/tools/)', message: 'tools/ is dev-only code: production code never imports it' };
const noDeepLibImports = {
  regex: '^(#(infra|platform|model-service|feature-engine|tools)/[^/]+/.+|\\.{1,2}/(.+/)?(infra|platform|model-service|feature-engine|tools)/[^/]+/src/.+)$',
  message: 'import a lib only through its index: #<layer>/<name>',
};
// A lib's specs are dev code: they may use tools/ (e.g. #tools/model-builders); the layer rule holds for them too.
const layerRules = (layer) => {
  const forbidden = Object.keys(LAYERS).filter((l) => !LAYERS[layer].includes(l));
  const layerPatterns = forbidden.map((l) => ({ regex: `^(#${l}/|.*/libs/${l}/)`, message: `layer ${layer} may import only ${LAYERS[layer].join(', ')} (not ${l})` }));
  const rule = (patterns) => ({ 'no-restricted-imports': ['error', { patterns: [...layerPatterns, noApps, ...patterns, noDeepLibImports] }] });
  return [
    { files: [`libs/${layer}/**/*.ts`], ignores: ['**/*.spec.ts'], rules: rule([noTools]) },
    { files: [`libs/${layer}/**/*.spec.ts`], rules: rule([]) },
  ];
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'libs/infra/db/src/generated/**', 'coverage/**', '.stratum/**', 'apps/dashboard/dist/**'] },
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
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration through #infra/config (AppConfig)' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='forwardRef']", message: 'no forwardRef: a cycle means the design needs a fix' }],
      'no-restricted-imports': ['error', { patterns: [noDeepLibImports] }],
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' }, languageOptions: { globals: { require: 'readonly', module: 'writable', globalThis: 'readonly' } } },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  // The one reader of process.env, and tool configs that the Prisma CLI reads on its own.
  { files: ['libs/infra/config/src/env.ts', 'prisma.config.ts', 'scripts/*.mjs'], rules: { 'no-restricted-properties': 'off' } },
  // Layers: one rule per layer; apps may use every layer but never tools/.
  ...Object.keys(LAYERS).flatMap(layerRules),
  { files: ['apps/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noTools, noDeepLibImports] }] } },
  // Tests may use loose typing on parsed JSON bodies.
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-unsafe-call': 'off', '@typescript-eslint/no-unsafe-return': 'off', '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
