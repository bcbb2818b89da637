// Closing lines of a CI run. CI keeps only the tail of the log, so after both runs this repeats every failed
// test, and every test that passed only on its retry (`.ci/run` allows one: a race to fix, not a pass to
// forget), with the start of each error. The last line is "tests: N passed, N failed, N skipped".
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

// The error's message and the frames in the project's own files (vitest's frames say nothing here).
const clip = (text) =>
  text.split("\n").filter((line) => !line.includes("node_modules") && !line.includes("<anonymous>")).slice(0, 15).map((line) => `      ${line.slice(0, 300)}`).join("\n")
let retried = 0
for (const { file, run } of reports) {
  for (const suite of run.testResults ?? []) {
    const where = path.relative(process.cwd(), suite.name)
    const tests = suite.assertionResults ?? []
    const failed = tests.filter((test) => test.status === "failed")
    if (suite.status === "failed" && failed.length === 0) {
      console.log(`FAILED (${path.basename(file)}) ${where}: the file itself failed`)
      if (suite.message) console.log(clip(suite.message))
    }
    for (const test of failed) {
      console.log(`FAILED (${path.basename(file)}) ${where} > ${test.fullName}`)
      for (const message of test.failureMessages ?? []) console.log(clip(message))
    }
    // A test that passed keeps the errors of the attempts before (vitest's JSON report).
    for (const test of tests.filter((t) => t.status === "passed" && (t.failureMessages ?? []).length > 0)) {
      retried++
      console.log(`PASSED ONLY ON RETRY (${path.basename(file)}) ${where} > ${test.fullName}`)
      console.log(clip(test.failureMessages[0]))
    }
  }
}
if (retried > 0) console.log(`retried: ${retried} test(s) passed only on a retry (above)`)
const sum = (key) => reports.reduce((n, { run }) => n + (run[key] ?? 0), 0)
console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`)
