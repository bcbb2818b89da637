/**
 * The AI SDK UI message types chat reads and writes: request messages (text parts, and tool parts carrying
 * the user's approval answers) and the UI message stream chunks (the JSON of each SSE `data:` line).
 */

/** The user's answer to a `tool-approval-request`, as the AI SDK puts it on the tool part. */
export interface ToolApprovalAnswer {
  readonly id: string
  readonly approved?: boolean | undefined
  readonly reason?: string | undefined
}

/** One part of an AI SDK `UIMessage` (text parts and tool parts' approvals are read; the rest is ignored). */
export interface UIMessagePart {
  readonly type: string
  readonly text?: string | undefined
  readonly toolCallId?: string | undefined
  readonly state?: string | undefined
  readonly approval?: ToolApprovalAnswer | undefined
}
export interface UIMessage {
  readonly id: string
  readonly role: "system" | "user" | "assistant"
  readonly parts: ReadonlyArray<UIMessagePart>
}
export interface ChatRequest {
  readonly id: string
  readonly messages: ReadonlyArray<UIMessage>
  readonly projectId?: string | null | undefined
}

/** A UI message stream chunk (the JSON in each `data:` line); `"[DONE]"` ends the stream. */
export type UIChunk = { readonly type: string; readonly [field: string]: unknown }

export const chatText = (message: UIMessage) =>
  message.parts.filter((p) => p.type === "text" && typeof p.text === "string").map((p) => p.text).join("")

/** The approval answers on the last message, when it is the assistant's (the AI SDK resends it with them). */
export const approvalAnswers = (messages: ReadonlyArray<UIMessage>): ReadonlyMap<string, { readonly approved: boolean; readonly reason: string | undefined }> => {
  const last = messages.at(-1)
  const answers = new Map<string, { readonly approved: boolean; readonly reason: string | undefined }>()
  if (last?.role !== "assistant") return answers
  for (const part of last.parts) {
    if (part.approval !== undefined && typeof part.approval.approved === "boolean") {
      answers.set(part.approval.id, { approved: part.approval.approved, reason: part.approval.reason })
    }
  }
  return answers
}
