// `koa2` is Koa 2 installed under an npm alias, so the suite runs on both
// majors. Koa 2 ships no types; its public surface is the one @types/koa
// describes for Koa 3, which is all the tests use.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
