/**
 * The registry side of hako: pull and push through any OCI distribution registry,
 * moving only the blobs the other side lacks.
 *
 * One concept a file: reference.ts (names, Docker Hub short names), config.ts (config dir,
 * insecure registries, CA certificates), credentials.ts (login storage), auth.ts
 * (challenges, tokens), transport.ts (scheme, retries, redirects), manifest.ts (formats,
 * platforms), client.ts (the API of one repository), download.ts (resumable blob GET),
 * upload.ts (monolithic and chunked upload), sources.ts (where blobs are known to be, for
 * cross-repository mounts), progress.ts (bars and lines), pull.ts, push.ts, login.ts.
 *
 * @example
 * ```ts
 * import { pullImage, pushImage } from "./src/registry/mod.ts";
 * await pushImage("/var/lib/hako", "webapp:2", "127.0.0.1:5000/webapp:2");
 * const r = await pullImage("/tmp/other-store", "127.0.0.1:5000/webapp:2");
 * ```
 * @module
 */

export { hostPlatform, pullImage, type PullOptions, type PullResult } from "./pull.ts";
export { type BlobAction, pushImage, type PushOptions, type PushResult } from "./push.ts";
export { login, logout } from "./login.ts";
export {
  authFilePath,
  type Credential,
  findCredential,
  removeCredential,
  storeCredential,
} from "./credentials.ts";
export { configDir, readClientConfig } from "./config.ts";
export {
  familiarName,
  familiarString,
  isLoopback,
  parseRemote,
  registryFromServer,
  type RemoteReference,
} from "./reference.ts";
export {
  formatPlatform,
  MEDIA_TYPES,
  parseManifest,
  parsePlatform,
  type Platform,
  selectPlatform,
} from "./manifest.ts";
export { parseChallenges } from "./auth.ts";
export { Transport, type TransportOptions } from "./transport.ts";
export { Repository } from "./client.ts";
export { Progress, type ProgressMode } from "./progress.ts";
export { RegistryAuthError, RegistryProtocolError, RegistryUnavailableError } from "./errors.ts";
