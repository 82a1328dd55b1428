// The real-size benchmark's app: four multi-stage builds shared by ten services, on a base image
// of random (incompressible) data in the Docker Hub stand-in, each build adding layers of random
// data: a dependencies stage (changes rarely) and a build stage (reruns when the source changes).
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { commit } from './common.js'

export interface RealBuild {
  dir: string
  services: string[]
  /** Sizes of the random layers, MB at full size. */
  depsMb: number
  appMb: number
}

export const BASE_MB = 100

export const BUILDS: RealBuild[] = [
  { dir: 'web', services: ['web', 'worker', 'scheduler'], depsMb: 80, appMb: 30 },
  { dir: 'api', services: ['api', 'api-worker', 'api-cron'], depsMb: 60, appMb: 20 },
  { dir: 'admin', services: ['admin', 'admin-jobs'], depsMb: 40, appMb: 50 },
  { dir: 'mailer', services: ['mailer', 'mailer-queue'], depsMb: 20, appMb: 25 }
]

/** Every service with its build's directory. */
export const SERVICES: Array<[string, string]> = BUILDS.flatMap(b =>
  b.services.map((s): [string, string] => [s, b.dir])
)

const mb = (full: number, scale: number): number => Math.max(1, Math.round(full * scale))

/** The base image: busybox and two layers of random data (an OS and a runtime, say). */
export function baseDockerfile(scale: number): string {
  const total = mb(BASE_MB, scale)
  const first = Math.ceil(total * 0.6)
  return [
    'FROM busybox:latest',
    `RUN dd if=/dev/urandom of=/os.bin bs=1M count=${first} 2>/dev/null`,
    `RUN dd if=/dev/urandom of=/runtime.bin bs=1M count=${total - first || 1} 2>/dev/null`,
    ''
  ].join('\n')
}

/** `bench-base:<MB>m`, a docker.io name: it comes through the mirror. */
export const baseTag = (scale: number): string => `bench-base:${mb(BASE_MB, scale)}m`

function dockerfile(b: RealBuild, scale: number): string {
  const base = baseTag(scale)
  const dd = (file: string, n: number) =>
    `dd if=/dev/urandom of=${file} bs=1M count=${mb(n, scale)} 2>/dev/null`
  return [
    `FROM ${base} AS deps`,
    'COPY deps.lock /app/deps.lock',
    `RUN ${dd('/app/deps.bin', b.depsMb)}`,
    '',
    'FROM deps AS build',
    'COPY src/ /app/src/',
    `RUN ${dd('/app/app.bin', b.appMb)} && cat /app/src/* > /app/build.txt`,
    '',
    `FROM ${base}`,
    'COPY --from=deps /app/deps.bin /app/deps.bin',
    'COPY --from=build /app/app.bin /app/build.txt /app/',
    'COPY config.txt /app/config.txt',
    'CMD ["sh"]',
    ''
  ].join('\n')
}

/** Writes the app as a git checkout (the CLI reads the commit): convox.yml and a dir per build. */
export async function writeRealApp(dir: string, salt: string, scale: number): Promise<void> {
  const yml = ['services:']
  for (const b of BUILDS) {
    const root = path.join(dir, b.dir)
    await mkdir(path.join(root, 'src'), { recursive: true })
    await writeFile(path.join(root, 'Dockerfile'), dockerfile(b, scale))
    await writeFile(path.join(root, 'deps.lock'), `${b.dir} ${salt}\n`)
    await writeFile(path.join(root, 'src', 'main.txt'), `${b.dir} main\n`)
    await writeFile(path.join(root, 'config.txt'), `${b.dir} config\n`)
    for (const s of b.services) yml.push(`  ${s}:`, `    build: ${b.dir}`)
  }
  await writeFile(path.join(dir, 'convox.yml'), yml.join('\n') + '\n')
  commit(dir, 'app')
}

/** Changes the one source file of each build given, and commits. */
export async function changeSource(dir: string, builds: RealBuild[], what: string): Promise<void> {
  for (const b of builds) {
    await writeFile(path.join(dir, b.dir, 'src', 'main.txt'), `${b.dir} main, ${what}\n`)
  }
  commit(dir, what)
}
