/**
 * Raw system calls for the current architecture and the buffers they take.
 *
 * @module
 */

import { native } from "./native.ts";
import { SYS_AARCH64, SYS_X86_64 } from "./sysnr.ts";
import { arch, syscall } from "./trampoline.ts";

/** Syscall numbers for the current architecture (only the *at forms exist everywhere). */
export const SYS: { readonly [K in keyof typeof SYS_X86_64]: number } = arch === "x86_64"
  ? SYS_X86_64
  : SYS_AARCH64;

/** A raw syscall: the kernel's result, negative = -errno. Never touches libc's errno. */
export function sys(nr: number, ...args: (number | bigint)[]): bigint {
  return syscall(nr, ...args);
}

/** A NUL-terminated UTF-8 copy of `s`. */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** The address of a buffer the caller keeps alive while the kernel uses it. */
export function addr(buf: Uint8Array | ArrayBufferView): bigint {
  return native.addr(
    buf instanceof Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
  );
}

/** The address of a C string: a null pointer for null, the buffer's address otherwise. */
export function strAddr(s: Uint8Array | null): bigint {
  return s ? native.addr(s) : 0n;
}
