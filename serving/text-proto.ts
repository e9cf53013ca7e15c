// Protobuf text-format helpers shared by the config renderers.

/** A text-format string literal; escapes backslash and double quote (validated names contain neither). */
export function textProtoString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
