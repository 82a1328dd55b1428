#!/usr/bin/env node
// The convox-build CLI, from the committed bundle (npm run bundle). Node 22+ keeps the compiled
// bundle in its compile cache: later starts skip compiling it again.
import module from 'node:module'

module.enableCompileCache?.()
await import('../dist/cli.js')
