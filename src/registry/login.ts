/**
 * `hako login` / `logout`: a credential is checked against the registry (for a bearer
 * registry, by asking its token server for a token with it; for basic auth, by an
 * authenticated GET /v2/) before it is stored, so a typo is reported now, not at the next
 * pull. The error says the credentials were refused — never what they were.
 */

import { type Credential, removeCredential, storeCredential, withDefaults } from "./credentials.ts";
import { errorSummary, RegistryAuthError, RegistryProtocolError } from "./errors.ts";
import { Transport, type TransportOptions } from "./transport.ts";

/** Verifies a credential with the registry, then stores it; returns the file written. */
export async function login(
  registry: string,
  credential: Credential,
  opts: TransportOptions = {},
): Promise<string> {
  const t = await Transport.connect(
    registry,
    await withDefaults(registry, { ...opts, credential }),
  );
  try {
    if (t.auth.scheme !== null) {
      const res = await t.request("GET", "/v2/", { scopes: [] });
      if (!res.ok) {
        throw new RegistryProtocolError(
          `login to ${registry}: GET /v2/ answered ${await errorSummary(res)}`,
        );
      }
      await res.body?.cancel().catch(() => {});
    }
  } catch (e) {
    if (e instanceof RegistryAuthError) {
      throw new RegistryAuthError(
        `login to ${registry} failed: unauthorized: incorrect username or password`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    t.close();
  }
  return await storeCredential(registry, credential, opts.configDir);
}

/** Removes the stored credential; false when there was none. */
export function logout(registry: string, configDir?: string): Promise<boolean> {
  return removeCredential(registry, configDir);
}
