// ESM jest: run through `npm test` (node --experimental-vm-modules).
const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } }
]
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest }
}

/** @type {import('jest').Config} */
export default {
  verbose: false,
  // Rig tests run real builds; a project-level timeout is not honoured, so it is set here.
  testTimeout: 300000,
  // A keep-alive socket to a rig registry, left by a test server's proxy, must not hang CI.
  forceExit: true,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts']
    },
    {
      ...common,
      displayName: 'rig',
      // Integration tests share one rig (BuildKit, registries): run them one file at a time.
      testMatch: ['<rootDir>/__tests__/rig/**/*.test.ts']
    }
  ]
}
