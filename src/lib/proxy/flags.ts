import {Flags} from '@oclif/core'

import {
  BALANCE_MODES,
  DEFAULT_DROP_MODE,
  DROP_MODES,
  GATEWAY_DEFAULTS,
  MAX_CONNECTIONS_MODES,
} from '../gateway/types.js'

/** tcp:proxy's flags: their options and defaults come from the gateway's own constants. */
export const proxyFlags = {
  procfile: Flags.string({char: 'f', summary: 'Procfile to read (default: ./Procfile).'}),
  env: Flags.string({
    char: 'e',
    summary: 'Env file to load (repeatable; default ./.env when it exists).',
    multiple: true,
  }),
  formation: Flags.string({
    char: 'm',
    summary: 'How many instances of each type, e.g. tcp=2,web=1 (default 1 of each).',
  }),
  only: Flags.string({summary: 'Start only these process types (comma-separated), e.g. --only tcp.'}),
  app: Flags.string({char: 'a', summary: 'App name given to the processes as APP (default: the directory name).'}),
  host: Flags.string({summary: 'Address the gateway listens on.', default: '127.0.0.1'}),
  port: Flags.integer({
    char: 'p',
    summary: 'Port the gateway listens on (TCP_URL port).',
    default: 20_003,
    min: 0,
    max: 65_535,
  }),
  'web-port': Flags.integer({
    summary: 'PORT of the first web instance (+1 per instance).',
    default: 5000,
    min: 1,
    max: 65_535,
  }),
  upstream: Flags.string({
    summary: 'Also balance to a server you run yourself, HOST:PORT (repeatable).',
    multiple: true,
  }),
  balance: Flags.string({
    summary: 'How a new connection picks its instance.',
    options: BALANCE_MODES,
    default: GATEWAY_DEFAULTS.balance,
  }),
  drop: Flags.string({
    summary: 'How connections left on a dead instance end.',
    options: DROP_MODES,
    default: DEFAULT_DROP_MODE,
  }),
  grace: Flags.string({summary: 'Time between SIGTERM and SIGKILL.', default: '30s'}),
  'boot-timeout': Flags.string({summary: 'Time a tcp instance has to accept its first connection.', default: '60s'}),
  'queue-timeout': Flags.string({summary: 'How long a client waits while no instance is ready.', default: '30s'}),
  'max-crashes': Flags.integer({
    summary:
      'Crashes after which an instance is given up (a tcp instance that exits during the first boot is not restarted: the start-up fails like a deployment).',
    default: 13,
    min: 0,
  }),
  watch: Flags.boolean({
    char: 'w',
    summary: 'Rolling restart when files in the app directory change (node_modules, .git, dist, dotfiles ignored).',
  }),
  chaos: Flags.string({
    summary:
      "Restart one random tcp instance at random times, as the platform's scheduler may: 5m, or a range 30s..2m.",
  }),
  'backoff-base': Flags.string({
    summary: 'First delay of the exponential backoff of crash restarts and restart retries.',
    default: '1s',
    hidden: true,
  }),
  'restart-attempts': Flags.integer({
    summary: 'Start attempts of a new instance during a rolling restart.',
    default: 20,
    min: 1,
    hidden: true,
  }),
  'max-connections': Flags.integer({
    summary: 'Connections open at once through the gateway (default: no limit).',
    min: 1,
  }),
  'max-connections-mode': Flags.string({
    summary:
      'What a client beyond --max-connections gets: wait for a free slot (up to --queue-timeout) or an immediate reset.',
    options: MAX_CONNECTIONS_MODES,
    default: GATEWAY_DEFAULTS.maxConnectionsMode,
  }),
  'idle-timeout': Flags.string({
    summary: 'Close a connection after this long without traffic (default: never, as on the platform).',
  }),
  timestamps: Flags.boolean({char: 't', summary: 'Prefix every log line with the time.'}),
  'log-connections': Flags.boolean({summary: 'Log every connection opened and closed (always in --json).'}),
  json: Flags.boolean({summary: 'Print events as NDJSON on stdout instead of log lines.'}),
}
