// Images in a rack's registry, as tests check them: through the rack's own /v2/ proxy.
import type { ImportedImage } from '../../src/core/rack/build-import.js'
import { skopeo } from './rig.js'

/** skopeo inspect through the rack's /v2/ proxy: the image must exist in the rack's registry. */
export async function verifyThroughProxy(image: ImportedImage): Promise<boolean> {
  const r = await skopeo([
    'inspect',
    '--tls-verify=false',
    '--creds',
    `${image.credentials.username}:${image.credentials.password}`,
    `docker://${image.ref}`
  ])
  return r.exitCode === 0
}
