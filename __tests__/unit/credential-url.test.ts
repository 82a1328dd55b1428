// The push target a rack answers for an external build: provider/k8s/build.go BuildCreate writes
// `https://convox:%s@api.%s/%s%s` with the password as it is (not URL-escaped). Every URL
// metacharacter in the password must stay in the password, never reach the host or path.
import { describe, expect, it } from '@jest/globals'
import { stripCredentials } from '../../src/core/export/record.js'
import { RackClient, repositoryTarget } from '../../src/core/rack/client.js'
import { Redactor, urlPassword } from '../../src/core/secrets.js'
import { parseRepositoryUrl } from '../../src/core/credential-url.js'

const PASSWORDS = [
  'a/b',
  '1234/abc',
  'a#b',
  'a?b',
  'a@b',
  'a:b',
  'a%b',
  'a+b',
  'a b',
  'pässwörd-日本',
  '/#?@:%+ ü',
  '@@@',
  'x@api.example.com/other'
]

describe('repository URLs as the rack writes them (password not escaped)', () => {
  it.each(PASSWORDS)('%j: the password whole, host and path without it', password => {
    const url = `https://convox:${password}@api.example.com/myapp`
    const t = parseRepositoryUrl(url)
    expect(t).toMatchObject({
      repository: 'api.example.com/myapp',
      host: 'api.example.com',
      username: 'convox',
      password
    })
    expect(repositoryTarget(url).repository).toBe('api.example.com/myapp')
    expect(stripCredentials(url)).toBe('https://api.example.com/myapp')
  })

  it.each(PASSWORDS)('%j escaped as a URL writer escapes it: read back the same', password => {
    const url = `https://convox:${encodeURIComponent(password)}@api.example.com:5443/rack/myapp/`
    expect(parseRepositoryUrl(url)).toMatchObject({
      repository: 'api.example.com:5443/rack/myapp',
      host: 'api.example.com:5443',
      password
    })
  })

  it('a password that reads both ways is the one the run already has', () => {
    const url = 'https://convox:a%41b@api.example.com/myapp'
    expect(parseRepositoryUrl(url).password).toBe('aAb')
    expect(parseRepositoryUrl(url, [{ username: 'convox', password: 'a%41b' }]).password).toBe(
      'a%41b'
    )
    expect(parseRepositoryUrl(url, [{ username: 'convox', password: 'aAb' }]).password).toBe('aAb')
  })

  it('takes host/path with or without a login, and keeps a digest of a reference', () => {
    expect(parseRepositoryUrl('registry.example.com/app')).toMatchObject({
      repository: 'registry.example.com/app',
      password: ''
    })
    expect(parseRepositoryUrl('u:p%2Fq@registry.example.com:5000/app')).toMatchObject({
      repository: 'registry.example.com:5000/app',
      password: 'p/q'
    })
    expect(stripCredentials('registry.example.com/app@x')).toBe('registry.example.com/app@x')
  })

  it('refuses what has no host, never echoing the text', () => {
    for (const bad of [
      'https://convox:s3cret@/app',
      'https://convox:s3cret@exa mple.com/app',
      ''
    ]) {
      expect(() => parseRepositoryUrl(bad)).toThrow(/not a URL like/)
      expect(() => parseRepositoryUrl(bad)).not.toThrow(/s3cret/)
    }
    expect(stripCredentials('https://convox:s3cret@/app')).toBe('')
  })

  it.each(PASSWORDS)(
    '%j in a rack-url as a rack writes RACK_URL: the client logs in with it',
    password => {
      const secrets = new Redactor()
      const rackUrl = `https://convox:${password}@api.example.com:5443`
      const client = new RackClient({ rackUrl, secrets })
      expect(client.host).toBe('api.example.com:5443')
      expect(client.endpoint.href).toBe('https://api.example.com:5443/')
      expect(client.credentials).toEqual({ username: 'convox', password })
      expect(urlPassword(rackUrl)).toBe(password)
      expect(secrets.redact(`x ${password} y`)).toBe('x *** y')
    }
  )
})
