// The codec package ships no type declarations; jpeg-codec.ts describes the parts it uses.
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
// The package's WebAssembly build (its glue locates libjpegturbowasm.wasm beside itself; used in Node).
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
