// Reuse of unchanged builds: the content key and the lookup of an image that has it.
export { keyTag } from './key.js'
export { Reuse, type ReuseDecision, type ReuseOptions } from './unchanged-builds.js'
