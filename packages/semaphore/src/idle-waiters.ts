/** The `idle()` promises of a limiter: made only when asked for, resolved together. */
export class IdleWaiters {
  private resolvers: Array<() => void> | undefined = undefined;

  /** A promise that `wake()` resolves. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.resolvers === undefined) this.resolvers = [];
      this.resolvers.push(resolve);
    });
  }

  /** Resolves every promise made so far. */
  wake(): void {
    const resolvers = this.resolvers;
    if (resolvers === undefined) return;
    this.resolvers = undefined;
    for (const resolve of resolvers) resolve();
  }
}
