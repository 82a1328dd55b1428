// build.json of an export, as the rack writes it (see /work/shared/convox-contract.md).

/** Every key of the rack's build record (structs.Build), in its order; none is omitted. */
export const BUILD_JSON_KEYS: readonly string[] = [
  'id',
  'app',
  'description',
  'entrypoint',
  'git-sha',
  'logs',
  'manifest',
  'process',
  'release',
  'reason',
  'repository',
  'status',
  'started',
  'ended'
]
