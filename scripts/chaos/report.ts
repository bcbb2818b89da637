/** The one table of a chaos run (markdown, so it can be pasted into docs/reliability.md). */
import type { ChaosResult } from "./harness.ts"

const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const ms = (value: number | undefined) => (value === undefined ? "-" : `${Math.round(value)} ms`)

const faultCounts = (result: ChaosResult) => {
  const counts = new Map<string, number>()
  for (const fault of result.faults) counts.set(fault.kind, (counts.get(fault.kind) ?? 0) + 1)
  return [...counts.entries()].map(([kind, n]) => `${kind} x${n}`).join(", ")
}

export const table = (result: ChaosResult): string => {
  const l = result.losses
  const errors = [...result.stats.errors.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(", ")
  const all = [...result.recovery.values()].flat()
  const rows: Array<readonly [string, string]> = [
    ["requests (attempts through the proxy)", String(result.stats.requests)],
    ["errors by kind (each retried)", errors === "" ? "none" : errors],
    ["requests given up", String(result.stats.failed)],
    ["faults", faultCounts(result)],
    ["imports accepted", String(result.imports)],
    ["jobs lost / doubled", `${l.jobsLost} / ${l.jobsDoubled}`],
    ["outbox updates lost / doubled", `${l.outboxLost} / ${l.outboxDoubled}`],
    ["IDE writes applied; lost / doubled", `${result.edits}; ${l.editsLost} / ${l.editsDoubled}`],
    ["realtime events received (reconnects)", `${result.events} (${result.reconnects})`],
    ["realtime events missed / duplicated after resume", `${l.eventsMissed} / ${l.eventsDuplicated}`],
    ["chat runs started; completed / ended with error frame (replica killed) / hung", `${result.chat.started}; ${result.chat.completed} / ${result.chat.endedWithError} / ${result.chat.hung}`],
    ["chat frames missed / repeated after resume (resumes)", `${result.chat.missed} / ${result.chat.repeated} (${result.chat.resumes})`],
    ["recovery p50 / p99 (all faults)", `${ms(percentile(all, 50))} / ${ms(percentile(all, 99))}`],
    ...[...result.recovery.entries()].map(([kind, values]) =>
      [`recovery p50 / p99 after ${kind}`, `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}`] as const)
  ]
  return ["| what | figure |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join("\n")
}

/** Everything lost, doubled, missed, repeated or hung: the goal is 0. */
export const lostOrDoubled = (result: ChaosResult): number => {
  const l = result.losses
  return l.jobsLost + l.jobsDoubled + l.outboxLost + l.outboxDoubled + l.editsLost + l.editsDoubled + l.eventsMissed +
    l.eventsDuplicated + result.chat.missed + result.chat.repeated + result.chat.hung
}
