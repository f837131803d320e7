/** Jest in ESM mode with @swc/jest (type-checking is `npm run typecheck`). */
export default {
  testEnvironment: '<rootDir>/test/support/jest-environment.cjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: {
    '^#(infra|platform|model-service|feature-engine)/(.*)$': '<rootDir>/libs/$1/$2/src/index.ts',
    '^#tools/(.*)$': '<rootDir>/tools/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/{apps,libs,tools,test,scripts}/**/*.spec.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
