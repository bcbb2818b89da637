/**
 * `npm run chaos [-- --kills 50 --pg-restarts 5 --seconds 600 --replicas 3 --pg-port 25458 --pg-down-ms 2000]`:
 * runs the chaos harness (scripts/chaos/harness.ts) on its own PostgreSQL 15 and prints one table. Exits 1
 * when anything was lost or doubled. Needs root and /usr/lib/postgresql/15/bin.
 */
import { parseArgs } from "node:util"
import { postgresAvailable } from "./cluster.ts"
import { runChaos } from "./harness.ts"
import { lostOrDoubled, table } from "./report.ts"

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "50" },
    "pg-restarts": { type: "string", default: "5" },
    seconds: { type: "string", default: "600" },
    replicas: { type: "string", default: "3" },
    "pg-port": { type: "string", default: "25458" },
    "pg-down-ms": { type: "string", default: "2000" }
  }
})

if (!postgresAvailable()) {
  console.error("chaos: needs root and PostgreSQL 15 in /usr/lib/postgresql/15/bin")
  process.exit(2)
}

const result = await runChaos({
  kills: Number(values.kills),
  pgRestarts: Number(values["pg-restarts"]),
  seconds: Number(values.seconds),
  replicas: Number(values.replicas),
  pgPort: Number(values["pg-port"]),
  pgDownMs: Number(values["pg-down-ms"]),
  log: (line) => console.error(line)
})
console.log(table(result))
for (const line of result.details) console.log(`- ${line}`)
process.exit(lostOrDoubled(result) === 0 ? 0 : 1)
