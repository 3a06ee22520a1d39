/*
 * Starts the test suite's fake Scalingo platform with one user and one app, for timing `env -a APP`:
 * prints the environment to export (SCALINGO_API_URL, SCALINGO_AUTH_URL, SCALINGO_API_TOKEN, APP) as
 * KEY=value lines, then serves until SIGTERM. Used by bench/startup.sh.
 */
import {randomBytes} from 'node:crypto'

import {FakeScalingo} from '../test/support/fake-scalingo.js'

const token = `tk-us-${randomBytes(18).toString('hex')}`
const fake = new FakeScalingo()
await fake.start()
fake.addUser(token)
fake.addApp('bench-app', {
  variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003', DATABASE_URL: 'postgres://u:p@h/db'},
})
const env = {...fake.env(), SCALINGO_API_TOKEN: token, APP: 'bench-app'}
process.stdout.write(
  Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n') + '\n',
)
process.on('SIGTERM', () => void fake.stop().then(() => process.exit(0)))
