// The generated TypeScript client against a scripted fetch: wire format, errors,
// retries, token handling and pagination, without a server.
import {
  AuthenticationError,
  BadRequestError,
  RateLimitError,
  ServerError,
  UapiClient,
  UapiConnectionError,
  UapiError,
  type PhoneCall,
} from "./index.js";
import { check, equal, rejects, run, test } from "./harness.js";

type Answer = Response | Error | ((url: URL, init: RequestInit) => Response);

interface Seen {
  url: URL;
  init: RequestInit;
  headers: Headers;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function apiError(status: number, code: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message: `because ${code}` } }, headers);
}

function page(entries: Array<{ id: string }>, start = 0, total = entries.length): Response {
  return json(200, { startIndex: start, itemsPerPage: entries.length, totalResults: total, entry: entries });
}

/** A fetch answering from a script (or a function), recording every request. */
function scripted(answers: Answer[] | ((url: URL, init: RequestInit) => Response)) {
  const seen: Seen[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    seen.push({ url, init, headers: new Headers(init.headers) });
    const answer = typeof answers === "function" ? answers : answers.shift();
    if (answer === undefined) throw new Error("script exhausted");
    if (answer instanceof Error) throw answer;
    return typeof answer === "function" ? answer(url, init) : answer;
  };
  return { seen, fetch: fetchImpl as typeof fetch };
}

const FAST = { backoffBaseMs: 1, backoffMaxMs: 5 };

function withToken(script: ReturnType<typeof scripted>, options: Record<string, unknown> = {}): UapiClient {
  return new UapiClient({ baseUrl: "http://uapi.test/", token: "fixed", fetch: script.fetch, ...FAST, ...options });
}

test("path parameters keep @ and * and escape the rest", async () => {
  const script = scripted(() => page([]));
  const client = withToken(script);
  await client.listPhoneCalls({ userId: "@me", extension: "0003*210" });
  await client.listPhoneCalls({ userId: "a/b c", extension: "210", count: 5, fields: "id" });
  equal(script.seen[0]!.url.pathname, "/uapi/phoneCalls/@me/0003*210", "raw path");
  equal(script.seen[1]!.url.pathname, "/uapi/phoneCalls/a%2Fb%20c/210", "escaped path");
  equal(script.seen[1]!.url.search, "?count=5&fields=id", "query");
  equal(script.seen[0]!.url.search, "", "absent parameters are left out");
  equal(script.seen[0]!.headers.get("authorization"), "Bearer fixed", "bearer");
});

test("a 204 is an empty collection or list", async () => {
  const client = withToken(scripted(() => new Response(null, { status: 204 })));
  equal(await client.listPhoneCalls({ userId: "@me", extension: "210" }),
    { startIndex: 0, itemsPerPage: 0, totalResults: 0, entry: [] }, "empty collection");
  equal(await client.hangUpPhoneCall({ userId: "@me", extension: "210", phoneCallId: "x", phoneNumber: "+1" }), [], "empty list");
});

test("bodies are JSON, form for the token endpoint", async () => {
  const script = scripted([json(200, [{ id: "c1" }]), json(200, { access_token: "t", token_type: "Bearer", expires_in: 60 })]);
  const client = withToken(script);
  const created: PhoneCall[] = await client.createSimplePhoneCall({
    userId: "@me",
    body: { extension: "210", phoneCallView: [{ destination: "3334444" }] },
  });
  equal(created[0]!.id, "c1", "decoded");
  equal(JSON.parse(String(script.seen[0]!.init.body)), { extension: "210", phoneCallView: [{ destination: "3334444" }] }, "json body");
  equal(script.seen[0]!.headers.get("content-type"), "application/json", "json type");
  await client.issueToken({ body: { grant_type: "client_credentials", client_id: "a", client_secret: "b" } });
  equal(String(script.seen[1]!.init.body), "grant_type=client_credentials&client_id=a&client_secret=b", "form body");
  check(!script.seen[1]!.headers.has("authorization"), "no token on an operation without security");
});

test("errors carry status, code, message and headers, by family", async () => {
  const client = withToken(scripted([
    apiError(400, "pc_phonenumber_invalid", { "X-Trace": "t1" }),
    apiError(403, "access_denied"),
    apiError(415, "content_type_invalid"),
    new Response("<html>", { status: 502 }),
  ]));
  const bad = await rejects(client.getPhoneCall({ userId: "@me", extension: "210", phoneCallId: "x" }));
  check(bad instanceof BadRequestError && bad instanceof UapiError, "BadRequestError");
  equal([bad.status, bad.code, bad.message, bad.headers.get("x-trace"), bad.name],
    [400, "pc_phonenumber_invalid", "because pc_phonenumber_invalid", "t1", "BadRequestError"], "fields");
  const denied = await rejects(client.getPhoneCall({ userId: "13", extension: "220", phoneCallId: "x" }));
  check(denied instanceof UapiError && denied.constructor.name === "PermissionDeniedError", "403 family");
  const other = await rejects(client.createSimplePhoneCall({ userId: "@me", body: { extension: "210", phoneCallView: [] } }));
  check(other instanceof UapiError && other.constructor === UapiError && other.code === "content_type_invalid", "415 is a plain UapiError");
  const gateway = await rejects(client.createSimplePhoneCall({ userId: "@me", body: { extension: "210", phoneCallView: [] } }));
  check(gateway instanceof ServerError && gateway.code === "http_502", "non-JSON 502");
});

test("idempotent requests retry on 503, 429 and connection errors, honouring Retry-After", async () => {
  const script = scripted([
    apiError(503, "unavailable"),
    new TypeError("fetch failed"),
    apiError(429, "too_many", { "Retry-After": "0" }),
    page([{ id: "c1" }]),
  ]);
  const client = withToken(script);
  equal((await client.listPhoneCalls({ userId: "@me", extension: "210" })).totalResults, 1, "eventually answered");
  equal(script.seen.length, 4, "four attempts");
  const exhausted = withToken(scripted(() => apiError(429, "too_many")), { maxRetries: 2 });
  check((await rejects(exhausted.listPhoneCalls({ userId: "@me", extension: "210" }))) instanceof RateLimitError, "gives up");
  const longWait = scripted(() => apiError(503, "maintenance", { "Retry-After": "3600" }));
  await rejects(withToken(longWait).listPhoneCalls({ userId: "@me", extension: "210" }));
  equal(longWait.seen.length, 1, "a Retry-After past the limit is not waited for");
});

test("POST is not retried; failures without an answer are UapiConnectionError", async () => {
  const script = scripted([apiError(503, "unavailable"), new TypeError("fetch failed")]);
  const client = withToken(script);
  const body = { extension: "210", phoneCallView: [] };
  check((await rejects(client.createSimplePhoneCall({ userId: "@me", body }))) instanceof ServerError, "503 raised");
  const lost = await rejects(client.createSimplePhoneCall({ userId: "@me", body }));
  check(lost instanceof UapiConnectionError && lost.status === 0, "connection error");
  equal(script.seen.length, 2, "one attempt each");
});

test("timeouts abort the request", async () => {
  const hanging = (async (_input: RequestInfo | URL, init: RequestInit = {}) =>
    new Promise<Response>((_resolve, reject) => {
      init.signal?.addEventListener("abort", () => reject(new Error("aborted")));
    })) as typeof fetch;
  const client = new UapiClient({ baseUrl: "http://uapi.test", token: "t", fetch: hanging, maxRetries: 0 });
  const error = await rejects(client.listPhoneCalls({ userId: "@me", extension: "210" }, { timeoutMs: 20 }));
  check(error instanceof UapiConnectionError, "timed out");
});

test("extra headers per call", async () => {
  const script = scripted(() => page([]));
  const client = withToken(script, { headers: { "X-Default": "1" } });
  await client.listPhoneCalls({ userId: "@me", extension: "210" }, { extraHeaders: { "X-Request-Id": "r1" } });
  await client.listPhoneCalls({ userId: "@me", extension: "210" });
  equal([script.seen[0]!.headers.get("x-request-id"), script.seen[1]!.headers.get("x-request-id")], ["r1", null], "per call");
  equal(script.seen[1]!.headers.get("x-default"), "1", "client headers");
});

function oauth(api: (url: URL, init: RequestInit, token: string | null) => Response, expiresIn = 3600) {
  let issued = 0;
  const script = scripted((url, init) => {
    if (url.pathname === "/oauth/token") {
      const form = new URLSearchParams(String(init.body));
      if (form.get("client_secret") !== "s3cret") return json(401, { error: "invalid_client", error_description: "wrong secret" });
      issued += 1;
      return json(200, { access_token: `tok${issued}`, token_type: "Bearer", expires_in: expiresIn });
    }
    return api(url, init, new Headers(init.headers).get("authorization"));
  });
  return { script, issued: () => issued };
}

test("client credentials: one token, shared by concurrent calls, renewed inside the margin", async () => {
  const server = oauth(() => page([]));
  const client = new UapiClient({ baseUrl: "http://uapi.test", clientId: "app", clientSecret: "s3cret", fetch: server.script.fetch });
  await Promise.all([1, 2, 3].map(() => client.listPhoneCalls({ userId: "@me", extension: "210" })));
  equal(server.issued(), 1, "one token for concurrent calls");
  const eager = new UapiClient({
    baseUrl: "http://uapi.test", clientId: "app", clientSecret: "s3cret", fetch: server.script.fetch, tokenRefreshMarginMs: 3_600_000,
  });
  await eager.listPhoneCalls({ userId: "@me", extension: "210" });
  await eager.listPhoneCalls({ userId: "@me", extension: "210" });
  equal(server.issued(), 3, "renewed before each call when always inside the margin");
});

test("a 401 renews the token once", async () => {
  const server = oauth((_url, _init, token) => (token === "Bearer tok2" ? page([]) : apiError(401, "access_denied")));
  const client = new UapiClient({ baseUrl: "http://uapi.test", clientId: "app", clientSecret: "s3cret", fetch: server.script.fetch });
  await client.listPhoneCalls({ userId: "@me", extension: "210" });
  equal(server.issued(), 2, "tok1 refused, tok2 used");
  const never = oauth(() => apiError(401, "access_denied"));
  const stuck = new UapiClient({ baseUrl: "http://uapi.test", clientId: "app", clientSecret: "s3cret", fetch: never.script.fetch });
  check((await rejects(stuck.listPhoneCalls({ userId: "@me", extension: "210" }))) instanceof AuthenticationError, "401 raised");
  equal(never.issued(), 2, "only one renewal");
  const wrong = new UapiClient({ baseUrl: "http://uapi.test", clientId: "app", clientSecret: "nope", fetch: never.script.fetch });
  const refused = await rejects(wrong.listPhoneCalls({ userId: "@me", extension: "210" }));
  check(refused instanceof AuthenticationError && refused.code === "invalid_client" && refused.message === "wrong secret", "OAuth error");
});

test("iterPhoneCalls walks every page", async () => {
  const calls = ["c0", "c1", "c2", "c3", "c4"].map((id) => ({ id }));
  const script = scripted((url) => {
    const start = Number(url.searchParams.get("startIndex"));
    const count = Number(url.searchParams.get("count"));
    return page(calls.slice(start, start + count), start, calls.length);
  });
  const ids: string[] = [];
  for await (const call of withToken(script).iterPhoneCalls({ userId: "@me", extension: "210", count: 2 })) ids.push(call.id);
  equal(ids, ["c0", "c1", "c2", "c3", "c4"], "all items");
  equal(script.seen.map((s) => s.url.searchParams.get("startIndex")), ["0", "2", "4"], "pages");
});

await run();
