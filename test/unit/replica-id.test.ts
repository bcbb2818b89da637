import { describe, expect, it } from "vitest"
import { replicaIdOf } from "../../src/services/platform/Leader.ts"

describe("default replica id", () => {
  it("is <hostname>:<pid> for a short hostname", () => {
    expect(replicaIdOf("vm", 4242)).toBe("vm:4242")
  })

  it("keeps the pid whole when the hostname is long (a 63-character pod name), and fits application_name", () => {
    const pod = "cogo-service-deployment-7d9f8b6c5d-x2x4z-with-a-long-suffix-abc"
    expect(pod).toHaveLength(63)
    const a = replicaIdOf(pod, 4242)
    const b = replicaIdOf(pod, 4243)
    expect(a).toHaveLength(50)
    expect(a.endsWith(":4242")).toBe(true)
    expect(a).not.toBe(b)
    expect(Buffer.byteLength(`cogo-leader:${a}`)).toBeLessThanOrEqual(63)
  })
})
