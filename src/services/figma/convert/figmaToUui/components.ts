import type { FigmaComponentMeta, FigmaNode } from "../../../../domain/figma/FigmaInput.ts"
import type { UuiContainer, UuiFrame } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { type ConversionContext, lookup, type ParentContext } from "./context.ts"

/*
 * Components and variants: component sets and their variant options, components with their variant values
 * and property definitions, instances with property values and overrides. Older exports carry variants
 * only in node names (`Size=Large, State=Hover`), so those are parsed.
 */

/** A converted container before its kind is decided. */
export type ContainerFields = Omit<UuiFrame, "kind">

/** Gives a converted container its kind: component, component set, instance, or plain frame. */
export const containerOfKind = (
  node: FigmaNode, parent: ParentContext, base: ContainerFields, { source, warn }: ConversionContext
): UuiContainer => {
  switch (node.type) {
    case "COMPONENT": {
      const meta = lookup(source.components, node.id)
      return compact({
        ...base,
        kind: "component" as const,
        componentKey: meta?.key,
        description: meta?.description !== undefined && meta.description !== "" ? meta.description : undefined,
        variant: parent.isComponentSet || meta?.componentSetId !== undefined ? parseVariantName(node.name) : undefined,
        propertyDefinitions: propertyDefinitions(node)
      })
    }
    case "COMPONENT_SET":
      return compact({
        ...base,
        kind: "componentSet" as const,
        description: lookup(source.componentSets, node.id)?.description || undefined,
        propertyDefinitions: propertyDefinitions(node) ?? variantDefinitionsFromChildren(node)
      })
    case "INSTANCE":
      if (node.componentId === undefined) {
        warn(node.id, "instance-component-missing", "instance without componentId converted as a frame")
        return { ...base, kind: "frame" }
      }
      return compact({
        ...base,
        kind: "instance" as const,
        componentId: node.componentId,
        properties: instanceProperties(node, lookup(source.components, node.componentId)),
        overrides: node.overrides !== undefined && node.overrides.length > 0
          ? node.overrides.map((o) => ({ nodeId: o.id, fields: o.overriddenFields }))
          : undefined
      })
    default:
      return { ...base, kind: "frame" }
  }
}

const parseVariantName = (name: string | undefined): Record<string, string> | undefined => {
  if (name === undefined || !name.includes("=")) return undefined
  const variant: Record<string, string> = {}
  for (const part of name.split(",")) {
    const [key, ...rest] = part.split("=")
    if (key !== undefined && rest.length > 0) variant[key.trim()] = rest.join("=").trim()
  }
  return variant
}

const PROPERTY_TYPES = { VARIANT: "variant", BOOLEAN: "boolean", TEXT: "text", INSTANCE_SWAP: "instanceSwap" } as const

const propertyDefinitions = (node: FigmaNode) => {
  const definitions = node.componentPropertyDefinitions
  if (definitions === undefined) return undefined
  const out: Record<string, { type: (typeof PROPERTY_TYPES)[keyof typeof PROPERTY_TYPES]; defaultValue: string | boolean; options?: ReadonlyArray<string> }> = {}
  for (const [name, definition] of Object.entries(definitions)) {
    out[name] = compact({
      type: lookup(PROPERTY_TYPES, definition.type) ?? "text",
      defaultValue: definition.defaultValue ?? "",
      options: definition.variantOptions
    })
  }
  return out
}

/** Older exports have no componentPropertyDefinitions: variant options come from the member names. */
const variantDefinitionsFromChildren = (node: FigmaNode) => {
  const options = new Map<string, Array<string>>()
  for (const child of node.children ?? []) {
    for (const [key, value] of Object.entries(parseVariantName(child.name) ?? {})) {
      const values = options.get(key) ?? []
      if (!values.includes(value)) values.push(value)
      options.set(key, values)
    }
  }
  if (options.size === 0) return undefined
  const out: Record<string, { type: "variant"; defaultValue: string; options: ReadonlyArray<string> }> = {}
  for (const [key, values] of options) out[key] = { type: "variant", defaultValue: values[0] ?? "", options: values }
  return out
}

/** Property values; older exports lack componentProperties, so variant values come from the component's name. */
const instanceProperties = (node: FigmaNode, component: typeof FigmaComponentMeta.Type | undefined) => {
  if (node.componentProperties !== undefined) {
    const out: Record<string, string | boolean> = {}
    for (const [name, property] of Object.entries(node.componentProperties)) out[name] = property.value
    return out
  }
  return component?.componentSetId !== undefined ? parseVariantName(component.name) : undefined
}
