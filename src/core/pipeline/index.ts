// The pipeline: the one entry point both shells call, as the stages a fan-out runs on separate
// machines. Read in this order:
//   run-pipeline.ts  which stages a run is (from its settings), and the rack's build failed on error;
//   prepare.ts       secrets, the rack client, the commit, the fork guard: what every stage needs;
//   planning.ts      the plan of a push target, the app's env, the platforms;
//   start.ts         the plan checked whole, then the rack's build (its id is BUILD_ID);
//   resume.ts        build and finish stages: the build start made, found again from its id;
//   build.ts         the images of some or all services, pushed as <service>.<BUILD_ID>;
//   finish.ts        a list of steps: every image there, the release, the export, the promote;
//   import.ts        `convox builds import` of an export tarball (a run of its own);
//   promote-step.ts  the promote of a release (the last step of finish and of an import);
//   review.ts        a pull request's review app: made, built into, or deleted when it closes;
//   build-logs.ts    the logs the rack keeps, the user's arg values left out;
//   state.ts         what the stages hand each other (Run, Started, Built, Finished);
//   result.ts        what a run reports (PipelineResult).
// A new step goes where it runs: one that acts on the pushed images before the release (sign) is
// an entry of FINISH_STEPS before `release`; one that acts on the release (a review app) is an
// entry after it; a stage of its own (run alone, like import) is a file here that stages() in
// run-pipeline.ts calls. Each takes the Run and what the stages before it made (state.ts).
export { runPipeline } from './run-pipeline.js'
export type { PipelineResult, ReviewReport } from './state.js'
