#!/usr/bin/env node
// The convox-build CLI, from the committed bundle (npm run bundle).
import '../dist/cli.js'
