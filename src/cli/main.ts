// Entry point of the CLI (dist/cli.js, run by bin/convox-build.js).
import { runCli } from './run.js'

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: t => process.stdout.write(t),
  stderr: t => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd()
})
