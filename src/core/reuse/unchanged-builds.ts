// Reuse of unchanged builds: before a build runs, its content key is computed and looked up in
// the repository as `<service>.<key>`; when an image has it, the build is not run and that
// manifest is tagged `<service>.<BUILD_ID>` registry-side (its bytes PUT under the new tag, no
// blob moves). Otherwise the build runs and its push also carries the key tags.
// An untrusted run (src/core/trust.ts) looks up its own `<service>.<scope>.<key>` first, then
// the protected tag, and tags only its own: a protected run never finds what it pushed.
import type { KeyObject } from 'node:crypto'
import path from 'node:path'
import type { Exec } from '../exec.js'
import type { BuildSpec } from '../plan.js'
import type { FetchedManifest, RegistryClient } from '../registry/client.js'
import { formatReference, parseReference } from '../registry/reference.js'
import { checkSignature, type KeylessChecker, type SignatureCheck } from '../signing/cosign-tags.js'
import { readOrder, reuseKeyTag, type TrustScope } from '../trust.js'
import { gitKnownBlobs, underDirectory } from './context.js'
import { buildKey, type BuildKey } from './key.js'

export interface ReuseOptions {
  client: RegistryClient
  platforms: string[]
  secretIds: string[]
  secretArgs: string[]
  exec: Exec
  env?: NodeJS.ProcessEnv
  /** Git's index of the working directory, already being read: one read for every build. */
  index?: { root: string; blobs: Promise<Map<string, string>> }
  /**
   * The builder's own platforms (each node's), which a build without `platforms` is for: they go
   * into the key then, so that builders of other architectures or other nodes never hand each
   * other their images. A promise: the keys are made while the engine is still being probed.
   */
  builderPlatforms?: Promise<string[] | undefined>
  /** The run's trust scope (a promise: the CI context is read meanwhile); none: protected. */
  scope?: Promise<TrustScope | undefined>
  /**
   * Keys one of which must have signed an image (cosign's signature) for it to be reused;
   * undefined: any image under a key tag is (no signing configured, or `reuse-trust: any`).
   */
  trustedKeys?: readonly KeyObject[]
  /**
   * Checks keyless (Sigstore) signatures: set when the run signs keylessly or reuse-trust names
   * identities; then an image must carry a signature it or a trusted key accepts.
   */
  keyless?: KeylessChecker
}

/** What to do with one build. */
export type ReuseDecision =
  /** Not built: every service's image was tagged from `from` (`<repo>:<service>.<key>`). */
  | { reused: true; key: string; from: string; digest: string; note?: string }
  /** Build it; `tags` (the key tags, empty without a key) go on its push. */
  | { reused: false; key: string | null; tags: string[]; reason?: string; note?: string }

interface Lookup {
  k: BuildKey
  /** The key tags this run writes, `<repo>:<service>[.<scope>].<key>` of each service; empty without a key. */
  keyRefs: string[]
  /** What was found, its own scope's tags first: each with the reference it was found under. */
  found: { ref: string; manifest: FetchedManifest }[]
}

/** Why an image is not taken: a keyless identity's refusal names the key, others the image. */
function refusal(ref: string, check: SignatureCheck, why: string | undefined): string {
  if (check === 'unsigned') return `${ref} is unsigned`
  if (!why) return `${ref} is not signed by a trusted key`
  return why.startsWith('reuse key ') ? why : `${ref}: ${why}`
}

/** What a key is made of (its services are not: a leg's copy of a build has fewer). */
function buildIdentity(spec: BuildSpec): string {
  return JSON.stringify([spec.contextPath, spec.dockerfilePath, spec.target, spec.argValues])
}

/** One run's reuse checks: base image digests are resolved once and shared between builds. */
export class Reuse {
  private readonly digests = new Map<string, Promise<string>>()
  private readonly keys = new Map<string, Promise<BuildKey>>()
  private readonly lookups = new Map<string, Promise<Lookup>>()
  /** Signature checks by image (`registry/repository@digest`): one per run. */
  private readonly checks = new Map<string, Promise<{ check: SignatureCheck; why?: string }>>()
  private readonly builderPlatforms: Promise<string[] | undefined>

  constructor(private readonly o: ReuseOptions) {
    this.builderPlatforms = Promise.resolve(o.builderPlatforms)
    this.builderPlatforms.catch(() => undefined)
  }

  /** The platforms a key is made for. */
  async keyPlatforms(): Promise<string[]> {
    if (this.o.platforms.length > 0) return this.o.platforms
    const own = (await this.builderPlatforms) ?? []
    // A builder of several nodes still makes one image, its first node's, for a build without
    // platforms: the key names them all, in a form no `platforms` list gives.
    return own.length > 1 ? [`builder:${own.join(',')}`] : own
  }

  private knownBlobs(contextPath: string): Promise<Map<string, string>> {
    const { index } = this.o
    const rel = index ? path.relative(index.root, contextPath) : '..'
    if (!index || rel.startsWith('..') || path.isAbsolute(rel)) {
      return gitKnownBlobs(contextPath, this.o.exec, this.o.env)
    }
    return index.blobs.then(m => underDirectory(m, rel.split(path.sep).join('/')))
  }

  /** The digest `ref` resolves to now (pinned references as they are). */
  resolveDigest(ref: string): Promise<string> {
    let p = this.digests.get(ref)
    if (!p) {
      const parsed = parseReference(ref)
      p = parsed.digest
        ? Promise.resolve(parsed.digest)
        : this.o.client.getManifest(parsed).then(m => m.digest)
      this.digests.set(ref, p)
    }
    return p
  }

  /** The key of a build, made once (start it early with this; decide takes the same promise). */
  key(spec: BuildSpec): Promise<BuildKey> {
    const id = buildIdentity(spec)
    let k = this.keys.get(id)
    if (!k) {
      k = this.makeKey(spec)
      k.catch(() => undefined)
      this.keys.set(id, k)
    }
    return k
  }

  private makeKey(spec: BuildSpec): Promise<BuildKey> {
    return buildKey(spec, {
      platforms: this.keyPlatforms(),
      secretIds: this.o.secretIds,
      secretArgs: this.o.secretArgs,
      resolveDigest: ref => this.resolveDigest(ref),
      exec: this.o.exec,
      env: this.o.env,
      knownBlobs: dir => this.knownBlobs(dir)
    })
  }

  /**
   * The key's images in `repository`, looked up once: start it early with this (it waits for the
   * key, not for the logins or the engine's config); decide takes the same promise.
   */
  lookup(spec: BuildSpec, repository: string): Promise<Lookup> {
    const id = JSON.stringify([buildIdentity(spec), spec.services, repository])
    let l = this.lookups.get(id)
    if (!l) {
      l = this.key(spec).then(async k => {
        if (k.key === null) return { k, keyRefs: [], found: [] }
        const scope = await this.o.scope
        const refs = readOrder(scope, s =>
          spec.services.map(svc => `${repository}:${reuseKeyTag(svc, k.key!, s)}`)
        )
        const keyRefs = refs[0]!
        const found = await Promise.all(
          refs.flat().map(async ref => {
            const manifest = await this.o.client.findManifest(parseReference(ref))
            return manifest ? [{ ref, manifest }] : []
          })
        )
        return { k, keyRefs, found: found.flat() }
      })
      l.catch(() => undefined)
      this.lookups.set(id, l)
    }
    return l
  }

  /**
   * Decides a build: reused when an image of its key is in `repository`, else built with the key
   * tags. `images` are the services' `<repo>:<service>.<BUILD_ID>` references, in order.
   */
  async decide(
    spec: BuildSpec,
    repository: string,
    images: string[],
    signal?: AbortSignal
  ): Promise<ReuseDecision> {
    const { k, keyRefs, found } = await this.lookup(spec, repository)
    signal?.throwIfAborted()
    if (k.key === null) return { reused: false, key: null, tags: [], reason: k.reason }
    const key = k.key
    if (found.length === 0) return { reused: false, key, tags: keyRefs, note: k.note }
    const first = await this.firstTrusted(found)
    if ('refused' in first) {
      return { reused: false, key, tags: keyRefs, note: k.note, reason: first.refused }
    }
    const { manifest } = first
    const has = new Set(found.filter(f => f.manifest.digest === manifest.digest).map(f => f.ref))
    const missing = keyRefs.filter(ref => !has.has(ref))
    await Promise.all([...images, ...missing].map(ref => this.tag(manifest, ref)))
    return { reused: true, key, from: first.ref, digest: manifest.digest, note: k.note }
  }

  /** The first image found that a trusted key or identity signed; else why none is taken. */
  private async firstTrusted(
    found: Lookup['found']
  ): Promise<Lookup['found'][number] | { refused: string }> {
    const { trustedKeys, keyless } = this.o
    if (!trustedKeys && !keyless) return found[0]!
    const seen = new Map<string, string>()
    for (const f of found) {
      const { check, why } = await this.signature(f.ref, f.manifest.digest)
      if (check === 'signed') return f
      if (seen.has(f.manifest.digest)) continue
      seen.set(f.manifest.digest, refusal(f.ref, check, why))
    }
    return { refused: `${[...seen.values()].join('; ')}: building` }
  }

  /** The image's signature check, once per image in the run. */
  private signature(ref: string, digest: string): Promise<{ check: SignatureCheck; why?: string }> {
    const repo = parseReference(ref)
    const id = `${repo.registry}/${repo.repository}@${digest}`
    let c = this.checks.get(id)
    if (!c) {
      c = checkSignature(this.o.client, repo, digest, this.o.trustedKeys ?? [], this.o.keyless)
      c.catch(() => undefined)
      this.checks.set(id, c)
    }
    return c
  }

  private async tag(manifest: FetchedManifest, ref: string): Promise<void> {
    const target = parseReference(ref)
    const digest = await this.o.client.putManifest(target, manifest.bytes, manifest.mediaType)
    if (digest !== manifest.digest) {
      throw new Error(`${formatReference(target)}: tagged ${digest}, expected ${manifest.digest}`)
    }
  }
}
