import {Flags} from '@oclif/core'

/** --debug: log every API request and response to stderr, tokens redacted. DEBUG=<anything> does the same. */
export const debugFlag = {
  debug: Flags.boolean({helpGroup: 'GLOBAL', summary: 'Log API requests and responses to stderr (tokens redacted).'}),
}

/** The flags of every command that targets an app, named as in the Scalingo CLI. */
export const appFlags = {
  app: Flags.string({
    char: 'a',
    env: 'SCALINGO_APP',
    helpGroup: 'GLOBAL',
    summary: 'Name of the Scalingo app (default: detected from the git remote).',
  }),
  remote: Flags.string({
    char: 'r',
    default: 'scalingo',
    helpGroup: 'GLOBAL',
    summary: 'Git remote used to detect the app and region.',
  }),
  region: Flags.string({
    helpGroup: 'GLOBAL',
    summary: 'Scalingo region (default: from the git remote, SCALINGO_REGION, else osc-fr1).',
  }),
  ...debugFlag,
}
