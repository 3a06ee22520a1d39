/**
 * How a hint names one of our commands: as the user must type it in the CLI that runs it. Standalone that is
 * `scalingo-tcp scalingo:login`; as a plugin, the host's bin and topic separator (`heroku scalingo:login`, or
 * `acme scalingo login` in a CLI whose topicSeparator is a space). Library code never asks oclif for it:
 * - text a lib function writes itself (a warning, a hint in an error it throws) uses the CommandLine the
 *   command layer passes down (BaseCommand's `commandLine`, from oclif's config);
 * - an error thrown where no such argument reaches (token resolution inside the API client, the credentials
 *   file, finding the local gateway) names the command with commandRef(id), a placeholder that BaseCommand
 *   fills with the same CommandLine when it renders the error (message, suggestions, --json), in one place.
 */
export type CommandLine = (id: string) => string

/** The CommandLine of a CLI: its bin, then the command id with the CLI's topic separator. */
export function commandLineFor(bin: string, topicSeparator = ':'): CommandLine {
  return (id) => `${bin} ${id.split(':').join(topicSeparator)}`
}

const REF = /\{\{command ([a-z][a-z0-9-]*(?::[a-z0-9-]+)*)\}\}/g

/** A placeholder for `<bin> <id>`, filled by fillCommandRefs; for errors thrown below any CommandLine argument. */
export function commandRef(id: string): string {
  return `{{command ${id}}}`
}

/** Replaces every commandRef placeholder in `text` by the command as `commandLine` spells it. */
export function fillCommandRefs(text: string, commandLine: CommandLine): string {
  return text.replace(REF, (_, id: string) => commandLine(id))
}
