// What resolving a promise with an object costs over resolving it with a
// string: V8 looks up `then` on any object a promise is resolved with.
// `node bench/semaphore/then-lookup.mjs` prints ns per `await` for a class
// instance (doorman's permit is one), a plain object literal, and a string
// (async-sema's token), in two rounds.
class Permit {
  constructor(owner, weight) {
    this.owner = owner;
    this.weight = weight;
  }
  release() {
    this.owner = undefined;
  }
}
function release() {
  this.owner = undefined;
}
const makers = {
  'class instance': () => new Permit(1, 1),
  'object literal': () => ({ owner: 1, weight: 1, release }),
  string: () => '1',
};
const N = 2_000_000;
for (const round of [1, 2]) {
  for (const [name, make] of Object.entries(makers)) {
    const loop = async (n) => {
      for (let i = 0; i < n; i++) await Promise.resolve(make());
    };
    await loop(N / 10);
    const start = performance.now();
    await loop(N);
    const ns = ((performance.now() - start) * 1e6) / N;
    console.log(`round ${round}: ${name.padEnd(15)} ${ns.toFixed(1)} ns per await`);
  }
}
