// `npm run bench`: registers the TypeScript loader, then runs the benchmark (see bench.ts).
// Paths in variables: Node needs the .ts names, which tsc would refuse as import paths.
const loader = './ts-resolve.ts'
const bench = './bench.ts'
await import(loader)
const { main } = (await import(bench)) as { main: () => Promise<void> }
await main()
