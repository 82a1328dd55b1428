// Each CI's documented variables for a push and a PR/MR, and the context they give: shared by
// the context's unit tests and the CLI's.
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { readCiContext } from '../../src/ci/context.js'
import type { CiContext } from '../../src/core/commit.js'
import { spawnExec } from '../../src/core/exec.js'

const events = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/events')
export const HEAD = '0123456789abcdef0123456789abcdef01234567'
export const MERGE = '5555555555444444444433333333332222222222'

export type CiCase = [string, NodeJS.ProcessEnv, Partial<CiContext> & { description: string }]

// Each row: the variables a CI documents for that kind of run, and what the context says.
export const CI_CASES: CiCase[] = [
  [
    'GitHub push',
    {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_EVENT_PATH: path.join(events, 'push.json'),
      GITHUB_SHA: '9999999999888888888877777777776666666666',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REF_TYPE: 'branch',
      GITHUB_REPOSITORY: 'acme/myapp',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '77'
    },
    {
      service: 'github',
      commit: '9999999999888888888877777777776666666666',
      subject: 'Add the cache service',
      description: 'build 9999999999 Add the cache service',
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/myapp',
      runUrl: 'https://github.com/acme/myapp/actions/runs/77'
    }
  ],
  [
    'GitHub pull_request: the head, not the merge commit',
    {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: path.join(events, 'pull_request.json'),
      GITHUB_SHA: MERGE,
      GITHUB_REF: 'refs/pull/42/merge',
      GITHUB_HEAD_REF: 'fix-login',
      GITHUB_BASE_REF: 'main',
      GITHUB_REPOSITORY: 'acme/myapp'
    },
    {
      commit: HEAD,
      commitSource: 'ci',
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      isPullRequest: true,
      pullRequest: '42'
    }
  ],
  [
    // What actions/checkout checks out there, not the payload's head (git tells, in a checkout).
    'GitHub pull_request_target: GITHUB_SHA, the base',
    {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request_target',
      GITHUB_EVENT_PATH: path.join(events, 'pull_request_target.json'),
      GITHUB_SHA: MERGE,
      GITHUB_HEAD_REF: 'patch-1',
      GITHUB_BASE_REF: 'main'
    },
    {
      commit: MERGE,
      description: 'build 5555555555',
      branch: 'patch-1',
      pullRequest: '7'
    }
  ],
  [
    'GitHub pull_request without a readable payload: GITHUB_SHA',
    {
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request_target',
      GITHUB_EVENT_PATH: path.join(events, 'missing.json'),
      GITHUB_SHA: MERGE,
      GITHUB_HEAD_REF: 'patch-1'
    },
    { commit: MERGE, branch: 'patch-1', isPullRequest: true, description: 'build 5555555555' }
  ],
  [
    'GitLab push',
    {
      GITLAB_CI: 'true',
      CI: 'true',
      CI_COMMIT_SHA: HEAD,
      CI_COMMIT_TITLE: 'Fix login',
      CI_COMMIT_MESSAGE: 'Fix login\n\nbody',
      CI_COMMIT_BRANCH: 'main',
      CI_COMMIT_REF_NAME: 'main',
      CI_DEFAULT_BRANCH: 'main',
      CI_PROJECT_PATH: 'acme/myapp',
      CI_PROJECT_URL: 'https://gitlab.com/acme/myapp',
      CI_PIPELINE_ID: '1000',
      CI_PIPELINE_URL: 'https://gitlab.com/acme/myapp/-/pipelines/1000',
      CI_JOB_URL: 'https://gitlab.com/acme/myapp/-/jobs/2000'
    },
    {
      service: 'gitlab',
      commit: HEAD,
      subject: 'Fix login',
      description: `build ${HEAD.slice(0, 10)} Fix login`,
      branch: 'main',
      defaultBranch: 'main',
      isPullRequest: false,
      pullRequest: '',
      repository: 'acme/myapp',
      runUrl: 'https://gitlab.com/acme/myapp/-/jobs/2000'
    }
  ],
  [
    'GitLab merged-results MR pipeline: the source branch head, not the merge result',
    {
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: MERGE,
      CI_COMMIT_TITLE: "Merge branch 'fix-login' into 'main'",
      CI_COMMIT_REF_NAME: 'refs/merge-requests/12/merge',
      CI_MERGE_REQUEST_ID: '987612',
      CI_MERGE_REQUEST_IID: '12',
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'fix-login',
      CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: HEAD,
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
      CI_MERGE_REQUEST_TITLE: 'Fix login',
      CI_DEFAULT_BRANCH: 'main',
      CI_PROJECT_PATH: 'acme/myapp'
    },
    {
      commit: HEAD,
      subject: '',
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      defaultBranch: 'main',
      isPullRequest: true,
      pullRequest: '12'
    }
  ],
  [
    'GitLab MR pipeline (not merged results): CI_COMMIT_SHA is the head',
    {
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: HEAD,
      CI_COMMIT_TITLE: 'Fix login',
      CI_MERGE_REQUEST_IID: '12',
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'fix-login',
      CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: '',
      CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main'
    },
    { commit: HEAD, description: `build ${HEAD.slice(0, 10)} Fix login`, branch: 'fix-login' }
  ],
  [
    'Buildkite push',
    {
      BUILDKITE: 'true',
      CI: 'true',
      BUILDKITE_COMMIT: HEAD,
      BUILDKITE_MESSAGE: 'Fix login\n\nbody',
      BUILDKITE_BRANCH: 'main',
      BUILDKITE_PULL_REQUEST: 'false',
      BUILDKITE_PIPELINE_DEFAULT_BRANCH: 'main',
      BUILDKITE_REPO: 'git@github.com:acme/myapp.git',
      BUILDKITE_BUILD_URL: 'https://buildkite.com/acme/myapp/builds/15',
      BUILDKITE_JOB_ID: 'e44f9784'
    },
    {
      service: 'buildkite',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)} Fix login`,
      branch: 'main',
      defaultBranch: 'main',
      isPullRequest: false,
      pullRequest: '',
      repository: 'acme/myapp',
      runUrl: 'https://buildkite.com/acme/myapp/builds/15#e44f9784'
    }
  ],
  [
    'Buildkite pull request',
    {
      BUILDKITE: 'true',
      BUILDKITE_COMMIT: HEAD,
      BUILDKITE_MESSAGE: 'Fix login',
      BUILDKITE_BRANCH: 'fix-login',
      BUILDKITE_PULL_REQUEST: '31',
      BUILDKITE_PULL_REQUEST_BASE_BRANCH: 'main',
      BUILDKITE_REPO: 'https://github.com/acme/myapp.git'
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)} Fix login`,
      branch: 'fix-login',
      targetBranch: 'main',
      isPullRequest: true,
      pullRequest: '31',
      repository: 'acme/myapp'
    }
  ],
  [
    'CircleCI push',
    {
      CIRCLECI: 'true',
      CIRCLE_SHA1: HEAD,
      CIRCLE_BRANCH: 'main',
      CIRCLE_PROJECT_USERNAME: 'acme',
      CIRCLE_PROJECT_REPONAME: 'myapp',
      CIRCLE_BUILD_URL: 'https://circleci.com/gh/acme/myapp/88',
      CIRCLE_BUILD_NUM: '88'
    },
    {
      service: 'circleci',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/myapp',
      runUrl: 'https://circleci.com/gh/acme/myapp/88'
    }
  ],
  [
    'CircleCI pull request',
    {
      CIRCLECI: 'true',
      CIRCLE_SHA1: HEAD,
      CIRCLE_BRANCH: 'fix-login',
      CIRCLE_PULL_REQUEST: 'https://github.com/acme/myapp/pull/9'
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      isPullRequest: true,
      pullRequest: '9'
    }
  ],
  [
    'Bitbucket push',
    {
      BITBUCKET_BUILD_NUMBER: '51',
      BITBUCKET_COMMIT: HEAD,
      BITBUCKET_BRANCH: 'main',
      BITBUCKET_REPO_FULL_NAME: 'acme/myapp'
    },
    {
      service: 'bitbucket',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/myapp',
      runUrl: 'https://bitbucket.org/acme/myapp/pipelines/results/51'
    }
  ],
  [
    'Bitbucket pull request',
    {
      BITBUCKET_BUILD_NUMBER: '52',
      BITBUCKET_COMMIT: HEAD,
      BITBUCKET_BRANCH: 'fix-login',
      BITBUCKET_PR_ID: '4',
      BITBUCKET_PR_DESTINATION_BRANCH: 'main',
      BITBUCKET_REPO_FULL_NAME: 'acme/myapp'
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      isPullRequest: true,
      pullRequest: '4'
    }
  ],
  [
    'Jenkins push',
    {
      JENKINS_URL: 'https://ci.example.com/',
      GIT_COMMIT: HEAD,
      GIT_BRANCH: 'origin/main',
      GIT_URL: 'https://github.com/acme/myapp.git',
      BUILD_URL: 'https://ci.example.com/job/myapp/5/'
    },
    {
      service: 'jenkins',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/myapp',
      runUrl: 'https://ci.example.com/job/myapp/5/'
    }
  ],
  [
    'Jenkins multibranch pull request',
    {
      JENKINS_URL: 'https://ci.example.com/',
      GIT_COMMIT: HEAD,
      BRANCH_NAME: 'PR-3',
      CHANGE_ID: '3',
      CHANGE_BRANCH: 'fix-login',
      CHANGE_TARGET: 'main'
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      isPullRequest: true,
      pullRequest: '3'
    }
  ],
  [
    'Jenkins GitHub pull request builder: ghprbActualCommit, not the merge',
    {
      JENKINS_URL: 'https://ci.example.com/',
      GIT_COMMIT: MERGE,
      ghprbActualCommit: HEAD,
      ghprbPullId: '8',
      ghprbSourceBranch: 'fix-login',
      ghprbTargetBranch: 'main'
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      pullRequest: '8'
    }
  ],
  [
    'Azure Pipelines push',
    {
      BUILD_BUILDURI: 'vstfs:///Build/Build/310',
      TF_BUILD: 'True',
      BUILD_SOURCEVERSION: HEAD,
      BUILD_SOURCEVERSIONMESSAGE: 'Fix login',
      BUILD_SOURCEBRANCH: 'refs/heads/main',
      BUILD_REPOSITORY_NAME: 'acme/myapp',
      BUILD_BUILDID: '310',
      SYSTEM_COLLECTIONURI: 'https://dev.azure.com/acme/',
      SYSTEM_TEAMPROJECT: 'My App'
    },
    {
      service: 'azurePipelines',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)} Fix login`,
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/myapp',
      runUrl: 'https://dev.azure.com/acme/My%20App/_build/results?buildId=310'
    }
  ],
  [
    'Azure Pipelines told by TF_BUILD alone',
    {
      TF_BUILD: 'True',
      BUILD_SOURCEVERSION: HEAD,
      BUILD_SOURCEVERSIONMESSAGE: 'Fix login',
      BUILD_SOURCEBRANCH: 'refs/heads/main'
    },
    {
      service: 'azurePipelines',
      name: 'Azure Pipelines',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)} Fix login`,
      branch: 'main'
    }
  ],
  [
    'GitHub told by GITHUB_SHA alone',
    { GITHUB_SHA: MERGE },
    { service: 'github', commit: MERGE, description: 'build 5555555555' }
  ],
  [
    'Bitbucket told by BITBUCKET_COMMIT alone',
    { BITBUCKET_COMMIT: HEAD, BITBUCKET_BRANCH: 'main' },
    {
      service: 'bitbucket',
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'main'
    }
  ],
  [
    'Jenkins told by JENKINS_HOME alone',
    { JENKINS_HOME: '/var/jenkins_home', GIT_COMMIT: HEAD, GIT_BRANCH: 'origin/main' },
    { service: 'jenkins', commit: HEAD, description: `build ${HEAD.slice(0, 10)}`, branch: 'main' }
  ],
  [
    'Azure Pipelines pull request: SYSTEM_PULLREQUEST_SOURCECOMMITID, not the merge',
    {
      BUILD_BUILDURI: 'vstfs:///Build/Build/311',
      BUILD_SOURCEVERSION: MERGE,
      BUILD_SOURCEVERSIONMESSAGE: 'Merge pull request 5 from fix-login into main',
      BUILD_SOURCEBRANCH: 'refs/pull/5/merge',
      SYSTEM_PULLREQUEST_PULLREQUESTID: '17',
      SYSTEM_PULLREQUEST_PULLREQUESTNUMBER: '5',
      SYSTEM_PULLREQUEST_SOURCEBRANCH: 'refs/heads/fix-login',
      SYSTEM_PULLREQUEST_TARGETBRANCH: 'refs/heads/main',
      SYSTEM_PULLREQUEST_SOURCECOMMITID: HEAD
    },
    {
      commit: HEAD,
      description: `build ${HEAD.slice(0, 10)}`,
      branch: 'fix-login',
      targetBranch: 'main',
      isPullRequest: true,
      pullRequest: '5'
    }
  ]
]

/** The variables by which env-ci tells one CI from another, and Convox's own. */
const CI_VARIABLES =
  /^(CI|GITHUB_.*|RUNNER_.*|ACTIONS_.*|GITLAB_CI|CI_.*|BUILDKITE.*|CIRCLE.*|BITBUCKET_.*|JENKINS_URL|JENKINS_HOME|BUILD_BUILDURI|SYSTEM_.*|TF_BUILD|CONVOX_.*|RACK_URL)$/

/** env without any CI's variables: tests that play a CI must not run inside another one. */
export function withoutCi(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !CI_VARIABLES.test(k)))
}

/** The CI context of `env` alone: no checkout for git to read. */
export function readCiWithoutCheckout(env: NodeJS.ProcessEnv): Promise<CiContext> {
  return readCiContext({
    env: { PATH: process.env.PATH, GIT_CEILING_DIRECTORIES: tmpdir(), ...env },
    cwd: path.join(tmpdir(), 'no-such-checkout'),
    exec: spawnExec
  })
}
