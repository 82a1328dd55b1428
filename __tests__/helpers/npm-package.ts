// The npm package as users get it: packed from a fresh bundle (scripts/pack.mjs) and installed
// offline, from an npm cache of its own, so that nothing can come from a registry.
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import { REPO_ROOT } from './rig.js'

/** npm settings for a child: offline, this cache, quiet. */
export function npmEnv(cache: string): Record<string, string> {
  return {
    npm_config_cache: cache,
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false'
  }
}

/** Packs the package into dir; returns the tarball's path. */
export async function packTarball(dir: string): Promise<string> {
  const r = await spawnExec(process.execPath, [path.join(REPO_ROOT, 'scripts/pack.mjs'), dir])
  if (r.exitCode !== 0) throw new Error(`scripts/pack.mjs failed: ${r.stderr.slice(-2000)}`)
  return r.stdout.trim().split('\n').pop() ?? ''
}

/** `npm install --offline <tarball>` in dir (which may be empty), with an empty cache. */
export async function installTarball(tarball: string, dir: string, cache: string): Promise<void> {
  const r = await spawnExec('npm', ['install', '--no-save', '--no-package-lock', tarball], {
    cwd: dir,
    env: { ...process.env, ...npmEnv(cache) }
  })
  if (r.exitCode !== 0) throw new Error(`npm install ${tarball}: ${r.stderr.slice(-2000)}`)
}
