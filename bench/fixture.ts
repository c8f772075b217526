/**
 * The one workload every row shares, made offline from Debian's busybox-static: a busybox
 * root filesystem, its gzip tarball (what `hako import`, `podman import` and `docker import`
 * take), an OCI image layout and archive of it (for `ctr image import` and umoci), and OCI
 * runtime bundles on the same rootfs for crun and runc.
 *
 * @module
 */

import * as fs from "../ffi/fs.ts";
import { arch } from "../ffi/mod.ts";
import { makeBusyboxRootfs } from "../test/fixtures.ts";
import { sh, which } from "./proc.ts";

/** The image name every engine gets (docker.io/library/ is how containerd spells it). */
export const IMAGE = "busybox:bench";
/** The same image as containerd names it. */
export const CTR_IMAGE = "docker.io/library/busybox:bench";

/** A busybox root filesystem at `dir` (made once). */
export async function busyboxRootfs(dir: string): Promise<string> {
  if (!(await fs.exists(`${dir}/bin/busybox`))) await makeBusyboxRootfs(dir);
  return dir;
}

/** A gzip tarball of `rootfs` at `out` (made once). */
export async function tarball(rootfs: string, out: string): Promise<string> {
  if (!(await fs.exists(out))) await sh(["tar", "-C", rootfs, "-czf", out, "."]);
  return out;
}

async function sha256File(path: string): Promise<string> {
  return (await sh(["sha256sum", path])).split(/\s/)[0];
}

async function sha256Uncompressed(gz: string): Promise<string> {
  return (await sh(["sh", "-c", 'gzip -dc "$1" | sha256sum', "sh", gz])).split(/\s/)[0];
}

async function putBlob(
  layout: string,
  data: Uint8Array,
): Promise<{ digest: string; size: number }> {
  const tmp = `${layout}/blob.tmp`;
  await fs.writeFile(tmp, data);
  const hex = await sha256File(tmp);
  await fs.rename(tmp, `${layout}/blobs/sha256/${hex}`);
  return { digest: `sha256:${hex}`, size: data.length };
}

/**
 * Writes an OCI image layout at `layout` holding one image whose only layer is the gzip
 * tarball `layer`; the index names it `tag` (org.opencontainers.image.ref.name, what umoci
 * reads) and `fullName` (io.containerd.image.name, what `ctr image import` reads).
 */
export async function ociLayout(
  layout: string,
  layer: string,
  tag: string,
  fullName: string,
): Promise<string> {
  if (await fs.exists(`${layout}/index.json`)) return layout;
  await fs.mkdir(`${layout}/blobs/sha256`, { recursive: true });
  await fs.writeFile(`${layout}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const layerHex = await sha256File(layer);
  const layerSize = (await fs.stat(layer))!.size;
  await sh(["cp", "--reflink=auto", layer, `${layout}/blobs/sha256/${layerHex}`]);
  const config = {
    architecture: arch === "x86_64" ? "amd64" : "arm64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/sh"],
    },
    rootfs: { type: "layers", diff_ids: [`sha256:${await sha256Uncompressed(layer)}`] },
    history: [{ created_by: "hako bench: busybox-static rootfs" }],
  };
  const cfg = await putBlob(layout, new TextEncoder().encode(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: `sha256:${layerHex}`,
      size: layerSize,
    }],
  };
  const man = await putBlob(layout, new TextEncoder().encode(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...man,
      annotations: {
        "org.opencontainers.image.ref.name": tag,
        "io.containerd.image.name": fullName,
      },
    }],
  };
  await fs.writeFile(`${layout}/index.json`, JSON.stringify(index));
  return layout;
}

/** A tar of an OCI layout (an "OCI archive"), what `ctr image import` reads. */
export async function ociArchive(layout: string, out: string): Promise<string> {
  if (!(await fs.exists(out))) await sh(["tar", "-C", layout, "-cf", out, "."]);
  return out;
}

/**
 * An OCI runtime bundle at `dir` on a copy of `rootfs`, from `crun spec` (or `runc spec`),
 * adjusted to what `hako run` does: the process `args`, no terminal, a writable root, and
 * the namespaces Docker gives a container (pid, network, ipc, uts, mount, cgroup).
 */
export async function ociBundle(dir: string, rootfs: string, args: string[]): Promise<string> {
  if (await fs.exists(`${dir}/config.json`)) return dir;
  const tool = (await which("crun")) ?? (await which("runc"));
  if (!tool) {
    throw new Error("an OCI bundle needs crun or runc for its spec (apt-get install crun)");
  }
  await fs.mkdir(`${dir}/rootfs`, { recursive: true });
  await sh(["cp", "-a", `${rootfs}/.`, `${dir}/rootfs/`]);
  await sh([tool, "spec"], { cwd: dir });
  // deno-lint-ignore no-explicit-any
  const spec: any = await fs.readJson(`${dir}/config.json`);
  spec.process.args = args;
  spec.process.terminal = false;
  spec.root = { path: "rootfs", readonly: false };
  spec.hostname = "bench";
  const ns: { type: string }[] = spec.linux.namespaces ?? [];
  for (const type of ["pid", "network", "ipc", "uts", "mount", "cgroup"]) {
    if (!ns.some((n) => n.type === type)) ns.push({ type });
  }
  spec.linux.namespaces = ns;
  await fs.writeFile(`${dir}/config.json`, JSON.stringify(spec, null, 2));
  return dir;
}
