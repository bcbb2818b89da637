// Closing lines of a CI run. CI keeps only the tail of the log, so the failures are repeated here, after both
// runs, with the start of each message: "tests: N passed, N failed, N skipped" is the last line.
const fs = require("node:fs")
const path = require("node:path")

const reports = process.argv.slice(2).flatMap((file) => {
  try {
    return [{ file, run: JSON.parse(fs.readFileSync(file, "utf8")) }]
  } catch {
    console.log(`(no report at ${file})`)
    return []
  }
})

const clip = (text, lines) => text.split("\n").slice(0, lines).map((line) => `      ${line.slice(0, 300)}`).join("\n")
for (const { file, run } of reports) {
  for (const suite of run.testResults ?? []) {
    const where = path.relative(process.cwd(), suite.name)
    const failed = (suite.assertionResults ?? []).filter((test) => test.status === "failed")
    if (suite.status === "failed" && failed.length === 0) {
      console.log(`FAILED (${path.basename(file)}) ${where}: the file itself failed`)
      if (suite.message) console.log(clip(suite.message, 20))
    }
    for (const test of failed) {
      console.log(`FAILED (${path.basename(file)}) ${where} > ${test.fullName}`)
      for (const message of test.failureMessages ?? []) console.log(clip(message, 20))
    }
  }
}
const sum = (key) => reports.reduce((n, { run }) => n + (run[key] ?? 0), 0)
console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`)
