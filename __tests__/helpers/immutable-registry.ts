// A registry that refuses to overwrite tags, as ECR does for a repository with immutable tags: a
// loopback fault proxy in front of the rig's push registry that answers a manifest PUT on an
// existing tag with ECR's HTTP 400 TAG_INVALID (moby/buildkit#3776 shows how BuildKit prints it),
// and passes everything else (new tags, pushes by digest, reads) to the registry.
import http from 'node:http'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'

/** ECR's answer to a PUT of an existing tag in an immutable repository. */
export function ecrTagInvalid(repository: string, tag: string): string {
  return JSON.stringify({
    errors: [
      {
        code: 'TAG_INVALID',
        message: `The image tag '${tag}' already exists in the '${repository}' repository and cannot be overwritten because the repository is immutable.`
      }
    ]
  })
}

/** Status of a HEAD of the manifest at the upstream, with the client's own credentials. */
function headManifest(upstream: string, path: string, authorization?: string): Promise<number> {
  const [host, port] = upstream.split(':')
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        method: 'HEAD',
        path,
        headers: {
          accept: [
            'application/vnd.oci.image.index.v1+json',
            'application/vnd.oci.image.manifest.v1+json',
            'application/vnd.docker.distribution.manifest.list.v2+json',
            'application/vnd.docker.distribution.manifest.v2+json'
          ].join(', '),
          ...(authorization ? { authorization } : {})
        }
      },
      res => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }
    )
    req.on('error', reject)
    req.end()
  })
}

export interface ImmutableRegistry extends FaultProxy {
  /** Tags refused so far, as `<repository>:<tag>`. */
  refused: string[]
}

/** Starts the proxy in front of `upstream` (`host:port`, the rig's push registry). */
export async function startImmutableRegistry(upstream: string): Promise<ImmutableRegistry> {
  const refused: string[] = []
  const proxy = await startFaultProxy(upstream, async req => {
    const m = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(req.url)
    if (req.method !== 'PUT' || !m || m[2]!.startsWith('sha256:')) return undefined
    const auth = req.headers.authorization
    const status = await headManifest(
      upstream,
      req.url,
      typeof auth === 'string' ? auth : undefined
    )
    if (status !== 200) return undefined
    refused.push(`${m[1]}:${m[2]}`)
    return { kind: 'answer', status: 400, body: ecrTagInvalid(m[1]!, m[2]!) }
  })
  return Object.assign(proxy, { refused })
}
