/**
 * The OCI image-spec documents the store keeps: image manifest and image config.
 * Only the fields hako reads or writes are typed; the rest pass through untouched.
 */

/** Media type of an OCI image manifest. */
export const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
/** Media type of an OCI image config. */
export const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";

/** A content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** An OCI image manifest (image-spec manifest.md). */
export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (image-spec config.md, `config`). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [key: string]: unknown;
}

/** One history entry of an image config. */
export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An OCI image config (image-spec config.md). Its digest is the image ID. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: History[];
  [key: string]: unknown;
}

/** The default PATH Docker gives an image that sets none. */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
