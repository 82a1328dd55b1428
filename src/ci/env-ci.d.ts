// Types of the fields env-ci returns that the CI context reads (env-ci ships no types).
declare module 'env-ci' {
  export interface EnvCiResult {
    isCi: boolean
    name?: string
    service?: string
    commit?: string
    tag?: string
    build?: string
    buildUrl?: string
    job?: string
    jobUrl?: string
    branch?: string
    pr?: string | number
    isPr?: boolean
    prBranch?: string
    slug?: string
    root?: string
  }
  export default function envCi(options?: { env?: NodeJS.ProcessEnv; cwd?: string }): EnvCiResult
}
