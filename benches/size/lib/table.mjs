// The Markdown report: one row per client, smallest download first, in KB of 1000 bytes.

const kb = (bytes) => (bytes / 1000).toFixed(1)

export function markdownTable(rows) {
  const sorted = [...rows].sort((a, b) => a.gzip - b.gzip || a.min - b.min)
  return [
    "| client | min | min+gzip |",
    "| --- | ---: | ---: |",
    ...sorted.map((row) => `| ${row.name} | ${kb(row.min)} KB | ${kb(row.gzip)} KB |`),
  ].join("\n")
}
