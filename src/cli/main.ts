// Entry point of the CLI (dist/cli.js, run by bin/convox-build.js).
import { runCli } from './run.js'

// The process table shows a command line to every user of the machine: whatever flags were
// given (a password among them), it shows this from now on.
process.title = 'convox-build'

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: t => process.stdout.write(t),
  stderr: t => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd()
})
