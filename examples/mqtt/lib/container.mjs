// What every process of the example needs from the container it runs in, as on the platform:
// its name (CONTAINER) for log lines, and the PORT it must listen on.

export const CONTAINER_NAME = process.env.CONTAINER

export function containerLogger(fallbackName) {
  const name = CONTAINER_NAME || fallbackName
  return (message) => process.stdout.write(`[${name}] ${message}\n`)
}

/** The PORT the platform gives every container; exits with a hint when there is none. */
export function readPort(fallbackName, howToRun) {
  const port = Number(process.env.PORT)
  if (!process.env.PORT || !Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(
      `[${CONTAINER_NAME || fallbackName}] PORT is ${process.env.PORT ? `invalid ("${process.env.PORT}")` : 'not set'}: ` +
        `the platform gives every container a PORT to listen on.\nRun the app with \`scalingo-tcp tcp:proxy\`, or ${howToRun}.\n`,
    )
    process.exit(1)
  }

  return port
}
