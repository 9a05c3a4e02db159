// Puts the cutting proxy back to passing everything through. The tests undo what they asked of it, but one that
// fails midway does not: without this, its refusals, blocks or chaos would fail the tests after it too.

const UNDO = ["refuse?ms=0", "block-websockets?ms=0", "refuse-websockets?n=0", "no-sse?ms=0", "chaos?ms=0"];

export async function resetProxy(control) {
  for (const command of UNDO) {
    const response = await fetch(`${control}/${command}`, { method: "POST" });
    if (!response.ok) throw new Error(`the proxy answered ${response.status} to ${command}`);
  }
}
