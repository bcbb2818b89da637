import { Result, Schema, SchemaIssue } from "effect"
import { CogoDocument } from "../../../domain/figma/CogoUi.ts"
import { type ConversionWarning, type DecodeIssue, FigmaDecodeError } from "../../../domain/figma/ConversionWarning.ts"
import {
  detectFigmaShape, FigmaFileResponse, type FigmaInputShape, FigmaNode, FigmaNodeEntry, FigmaNodesResponse
} from "../../../domain/figma/FigmaInput.ts"
import { UuiDocument } from "../../../domain/figma/Uui.ts"
import { cogoToUui } from "./cogoToUui.ts"
import { compileGuard } from "./fastGuard.ts"
import { type Converted, type FigmaSource, figmaToUui } from "./figmaToUui.ts"
import { type ImportPlan, planImport } from "./importPlan.ts"
import { uuiToCogo } from "./uuiToCogo.ts"

export { cogoToUui } from "./cogoToUui.ts"
export { type Converted, type FigmaSource, figmaToUui } from "./figmaToUui.ts"
export { type ImportPlan, importEntityId, uuidV5 } from "./importPlan.ts"
export { uuiToCogo } from "./uuiToCogo.ts"

/** `figma-to-cogo` is the figma-compat default; the others are selected by a query parameter. */
export const CONVERSION_DIRECTIONS = ["figma-to-cogo", "figma-to-uui", "uui-to-cogo", "cogo-to-uui"] as const
export type ConversionDirection = (typeof CONVERSION_DIRECTIONS)[number]

export type ConversionOutput =
  | { readonly format: "cogo"; readonly document: CogoDocument; readonly warnings: ReadonlyArray<ConversionWarning> }
  | { readonly format: "uui"; readonly document: UuiDocument; readonly warnings: ReadonlyArray<ConversionWarning> }

type Format = FigmaDecodeError["format"]

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const pathSegment = (segment: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof segment === "object" ? segment.key : segment
  return typeof key === "number" ? key : String(key)
}

const decodeError = (format: Format, message: string, issues: ReadonlyArray<DecodeIssue>) =>
  new FigmaDecodeError({ format, message, issues })

/**
 * Validates with a guard compiled from the schema (fast path; the decoded value is the input itself since
 * these schemas have no transformations), and only on failure runs the Schema decoder for the issue paths.
 */
const makeDecoder = <S extends Schema.Codec<unknown>>(schema: S, format: Format) => {
  let guard: ((u: unknown) => boolean) | undefined
  return (input: unknown): Result.Result<S["Type"], FigmaDecodeError> => {
    guard ??= compileGuard(schema.ast)
    if (guard(input)) return Result.succeed(input as S["Type"])
    const decoded = Schema.decodeUnknownResult(schema)(input)
    if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
    const issues = formatter(decoded.failure.issue).issues.map((issue) => ({
      path: (issue.path ?? []).map(pathSegment),
      message: issue.message
    }))
    return Result.fail(decodeError(format, `Invalid ${format} input`, issues))
  }
}

const decodeFigmaFile = makeDecoder(FigmaFileResponse, "figma")
const decodeFigmaNodes = makeDecoder(FigmaNodesResponse, "figma")
const decodeFigmaEntry = makeDecoder(FigmaNodeEntry, "figma")
const decodeFigmaNode = makeDecoder(FigmaNode, "figma")
const decodeUui = makeDecoder(UuiDocument, "uui")
/** Validates a COGO UI JSON document (the preview renders it as is). */
export const decodeCogo = makeDecoder(CogoDocument, "cogo")

const NO_TABLES = { components: {}, componentSets: {}, styles: {} }

/** Detects which of the four Figma shapes `input` is and reduces it to a FigmaSource. */
export const decodeFigma = (input: unknown): Result.Result<{ readonly shape: FigmaInputShape; readonly source: FigmaSource }, FigmaDecodeError> => {
  const shape = detectFigmaShape(input)
  switch (shape) {
    case undefined:
      return Result.fail(decodeError("figma", "Not a Figma document", [{
        path: [],
        message: "Expected a GET /v1/files/:key response, a GET /v1/files/:key/nodes response, a plugin JSON_REST_V1 export or a node"
      }]))
    case "file":
      return Result.map(decodeFigmaFile(input), (file) => ({
        shape,
        source: { ...NO_TABLES, ...file, documents: [file.document] }
      }))
    case "pluginExport":
      return Result.map(decodeFigmaEntry(input), (entry) => ({
        shape,
        source: { ...NO_TABLES, ...entry, documents: [entry.document] }
      }))
    case "nodes":
      return Result.map(decodeFigmaNodes(input), (response) => {
        const entries = Object.values(response.nodes).filter((entry) => entry !== null)
        const merge = <K extends "components" | "componentSets" | "styles">(key: K) =>
          Object.assign({}, ...entries.map((entry) => entry[key] ?? {})) as FigmaSource[K]
        const source: FigmaSource = {
          ...(response.name === undefined ? {} : { name: response.name }),
          ...(response.variables === undefined ? {} : { variables: response.variables }),
          documents: entries.map((entry) => entry.document),
          components: merge("components"),
          componentSets: merge("componentSets"),
          styles: merge("styles")
        }
        return { shape, source }
      })
    case "node":
      return Result.map(decodeFigmaNode(input), (node) => ({ shape, source: { ...NO_TABLES, documents: [node] } }))
  }
}

const convert = (input: unknown, direction: ConversionDirection): Result.Result<ConversionOutput, FigmaDecodeError> => {
  switch (direction) {
    case "figma-to-uui":
      return Result.map(decodeFigma(input), ({ source }) => {
        const uui = figmaToUui(source)
        return { format: "uui", document: uui.value, warnings: uui.warnings }
      })
    case "figma-to-cogo":
      return Result.map(decodeFigma(input), ({ source }) => {
        const uui = figmaToUui(source)
        const cogo = uuiToCogo(uui.value)
        return { format: "cogo", document: cogo.value, warnings: [...uui.warnings, ...cogo.warnings] }
      })
    case "uui-to-cogo":
      return Result.map(decodeUui(input), (uui) => {
        const cogo = uuiToCogo(uui)
        return { format: "cogo", document: cogo.value, warnings: cogo.warnings }
      })
    case "cogo-to-uui":
      return Result.map(decodeCogo(input), (cogo) => {
        const uui = cogoToUui(cogo)
        return { format: "uui", document: uui.value, warnings: uui.warnings }
      })
  }
}

/**
 * The figma-compat entry point: detects the input shape, converts, and returns the document plus warnings,
 * or a FigmaDecodeError naming the bad paths. The converters are total; the only exception left is a stack
 * overflow on absurdly nested JSON, reported as a decode error at the boundary.
 */
export const convertFigma = (input: unknown, direction: ConversionDirection = "figma-to-cogo"): Result.Result<ConversionOutput, FigmaDecodeError> => {
  try {
    return convert(input, direction)
  } catch (error) {
    if (error instanceof RangeError) {
      return Result.fail(decodeError(direction.startsWith("figma") ? "figma" : direction.startsWith("uui") ? "uui" : "cogo",
        "Input nested too deeply", [{ path: [], message: error.message }]))
    }
    throw error
  }
}

/** Decodes a plugin export (any Figma shape) and plans the project import; see importPlan.ts. */
export const planFigmaImport = (projectId: string, input: unknown): Result.Result<Converted<ImportPlan>, FigmaDecodeError> =>
  Result.map(decodeFigma(input), ({ source }) => {
    const uui = figmaToUui(source)
    const plan = planImport(projectId, uui.value)
    return { value: plan.value, warnings: [...uui.warnings, ...plan.warnings] }
  })
