// The generated TypeScript client against a real `uapi serve` (UAPI_BASE_URL, demo app credentials).
import { AuthenticationError, BadRequestError, UapiClient, type CreatePhoneCallRequest } from "./index.js";
import { check, env, equal, rejects, run, test } from "./harness.js";

const baseUrl = env("UAPI_BASE_URL");
const clientId = env("UAPI_CLIENT_ID");
const clientSecret = env("UAPI_CLIENT_SECRET");
const extension = "0003*210";

/** Counts token requests going through the global fetch. */
function countingFetch() {
  const paths: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    paths.push(new URL(String(input)).pathname);
    return fetch(input, init);
  }) as typeof fetch;
  return { paths, fetch: fetchImpl };
}

test("create, list, hang up, typed error", async () => {
  const client = new UapiClient({ baseUrl, clientId, clientSecret });
  const body: CreatePhoneCallRequest = { extension: "210", phoneCallView: [{ destination: ["3334444"] }], nonce: "ts" };
  const created = await client.createSimplePhoneCall({ userId: "@me", body });
  equal([created.length, created[0]!.extension, created[0]!.nonce], [1, extension, "ts"], "created");
  const id = created[0]!.id;
  const page = await client.listPhoneCalls({ userId: "@me", extension });
  check(page.entry.some((c) => c.id === id), "listed");
  const seen: string[] = [];
  for await (const call of client.iterPhoneCalls({ userId: "@me", extension, count: 1 })) seen.push(call.id);
  check(seen.includes(id), "iterated");
  const bad = await rejects(client.hangUpPhoneCall({ userId: "@me", extension, phoneCallId: id, phoneNumber: "abc" }));
  check(bad instanceof BadRequestError, "BadRequestError");
  equal([bad.status, bad.code], [400, "pc_phonenumber_invalid"], "error");
  const hung = await client.hangUpPhoneCall({ userId: "@me", extension, phoneCallId: id });
  equal([hung.length, hung[0]!.id, hung[0]!.endedBy], [1, id, "api"], "hung up");
  equal(await client.hangUpPhoneCall({ userId: "@me", extension, phoneCallId: id }), [], "204 is an empty list");
  const ended = await client.getPhoneCall({ userId: "@me", extension, phoneCallId: id });
  equal(ended.entry[0]!.cause, "hangup", "ended call is readable");
});

test("token renewal: before expiry and after a 401", async () => {
  const eager = countingFetch();
  const always = new UapiClient({ baseUrl, clientId, clientSecret, fetch: eager.fetch, tokenRefreshMarginMs: 3_600_000 });
  await always.listPhoneCalls({ userId: "@me", extension: "@self" });
  await always.listPhoneCalls({ userId: "@me", extension: "@self" });
  equal(eager.paths.filter((p) => p === "/oauth/token").length, 2, "renewed inside the margin");

  const counted = countingFetch();
  const client = new UapiClient({ baseUrl, clientId, clientSecret, fetch: counted.fetch });
  await client.listPhoneCalls({ userId: "@me", extension: "@self" });
  // As if the server had revoked it: the next call meets a 401 and renews once.
  (client as unknown as { token: string }).token = "revoked-or-unknown";
  await client.listPhoneCalls({ userId: "@me", extension: "@self" });
  equal(counted.paths, ["/oauth/token", "/uapi/phoneCalls/@me/@self", "/uapi/phoneCalls/@me/@self", "/oauth/token",
    "/uapi/phoneCalls/@me/@self"], "401 then renewal");
});

test("bad credentials and fixed tokens", async () => {
  const wrong = new UapiClient({ baseUrl, clientId, clientSecret: "wrong" });
  const refused = await rejects(wrong.listPhoneCalls({ userId: "@me", extension: "@self" }));
  check(refused instanceof AuthenticationError && refused.code === "invalid_client", "invalid_client");
  const issued = await new UapiClient({ baseUrl }).issueToken({
    body: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
  });
  const fixed = new UapiClient({ baseUrl, token: issued.access_token });
  equal((await fixed.listPhoneCalls({ userId: "@me", extension: "@self" })).startIndex, 0, "fixed token works");
});

await run();
