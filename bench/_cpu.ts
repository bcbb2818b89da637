/**
 * CPU time of this process (all threads) and of a local PostgreSQL's backends, read from /proc (Linux; 0 where
 * unreadable). On a shared machine wall-clock throughput swings with the load; CPU per unit of work barely
 * does, so benches print it beside their rates.
 */
import * as fs from "node:fs"

export interface CpuSample {
  /** This process, ms. */
  readonly node: number
  /** Backend pid -> its CPU so far, ms. */
  readonly server: ReadonlyMap<number, number>
}

/** CPU time (user + system, all threads) a process has used so far, ms; 0 when it cannot be read. */
export const processMillis = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10 // utime + stime, in 100 Hz ticks
  } catch {
    return 0
  }
}

/** A sample of this process and of the given backends (`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`). */
export const sampleCpu = (backendPids: ReadonlyArray<number>): CpuSample => {
  const own = process.cpuUsage()
  return { node: (own.user + own.system) / 1000, server: new Map(backendPids.map((pid) => [pid, processMillis(pid)])) }
}

/** CPU spent between two samples, ms (a backend first seen in `after` counts from zero). */
export const cpuSpent = (before: CpuSample, after: CpuSample) => ({
  node: after.node - before.node,
  server: [...after.server].reduce((sum, [pid, ms]) => sum + ms - (before.server.get(pid) ?? 0), 0)
})
