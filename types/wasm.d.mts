// The global types the API mentions, taken from the project's DOM lib or
// @types/node when it has them, with structural fallbacks otherwise: so the
// declarations check in browser, Node-only (lib es2022 + @types/node) and
// worker projects alike.
type Global = typeof globalThis;

/** WebAssembly.Module (an opaque compiled module). */
export type WasmModule = Global extends { WebAssembly: { Module: abstract new (...args: any[]) => infer T } }
  ? T
  : object;
/** WebAssembly.Memory. */
export type WasmMemory = Global extends { WebAssembly: { Memory: abstract new (...args: any[]) => infer T } }
  ? T
  : { readonly buffer: ArrayBuffer; grow(delta: number): number };
/** The fetch API's Response. */
export type FetchResponse = Global extends { Response: abstract new (...args: any[]) => infer T }
  ? T
  : { readonly ok: boolean; readonly status: number; readonly url: string; arrayBuffer(): Promise<ArrayBuffer> };
/** WHATWG URL. */
export type WebURL = Global extends { URL: abstract new (...args: any[]) => infer T }
  ? T
  : { readonly href: string; readonly protocol: string };
