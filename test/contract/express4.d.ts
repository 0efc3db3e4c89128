// `express4` is an npm alias of Express 4, installed next to Express 5 so the
// suite runs against both. Its API is the one @types/express describes.
declare module 'express4' {
  import express from 'express';
  export default express;
}
