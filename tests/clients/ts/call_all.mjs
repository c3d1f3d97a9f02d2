// Calls every planned operation of generated TypeScript clients (their shipped
// dist/index.js) against the mock server, and prints one JSON line per call:
// {"doc", "method", "ok", "error"?}. The plan is a JSON file written by
// tests/clients/test_mock_calls.py; {"$blob": base64} stands for a Blob.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === "object") {
    if (typeof value.$blob === "string") return new Blob([Buffer.from(value.$blob, "base64")]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const doc of plan.documents) {
  const module = await import(pathToFileURL(doc.module).href);
  const Client = module[doc.client];
  const client = new Client({ baseUrl: doc.baseUrl, token: "mock-token", maxRetries: 0 });
  for (const call of doc.calls) {
    const line = { doc: doc.name, method: call.method, ok: false };
    try {
      if (typeof client[call.method] !== "function") throw new TypeError(`no method ${call.method}`);
      const result = await client[call.method](revive(call.params));
      // Reading the answer must have produced a value when the operation declares one.
      line.ok = !call.hasResult || result !== undefined;
      if (!line.ok) line.error = "no decoded result";
    } catch (error) {
      line.error = `${error?.name}: ${error?.message}`;
    }
    console.log(JSON.stringify(line));
  }
}
