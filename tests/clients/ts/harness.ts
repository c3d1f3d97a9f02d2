// A minimal test harness for the Node scripts: no dependencies, so tsc needs no @types.
declare const process: { env: Record<string, string | undefined>; exitCode: number | undefined };

const cases: Array<[string, () => Promise<void>]> = [];

export function test(name: string, body: () => Promise<void>): void {
  cases.push([name, body]);
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function equal(actual: unknown, expected: unknown, message: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}

export async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

export async function run(): Promise<void> {
  let failed = 0;
  for (const [name, body] of cases) {
    try {
      await body();
      console.log(`ok - ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL - ${name}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  console.log(`${cases.length - failed}/${cases.length} node checks passed`);
  process.exitCode = failed === 0 ? 0 : 1;
}
