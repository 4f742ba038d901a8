/**
 * Part buffers, reused: a part of N bytes takes a free buffer of at least N (capacities rounded up to
 * 8 MiB), so the process holds about the memory budget in part buffers — those in use plus those kept
 * for reuse — however many parts go through, rather than leaving each finished part's buffer to the
 * garbage collector's good time.
 */
const ROUND = 8 * 1024 * 1024;

export class BufferPool {
  private readonly free: Buffer[] = [];
  private inUse = 0;

  constructor(private readonly budget: number) {}

  /** Bytes of buffers this pool holds, in use or free. */
  get held(): number {
    return this.inUse + this.free.reduce((a, b) => a + b.length, 0);
  }

  acquire(size: number): Buffer {
    let best = -1;
    this.free.forEach((b, i) => {
      const current = this.free[best];
      if (b.length >= size && (!current || b.length < current.length)) best = i;
    });
    const whole =
      best >= 0
        ? (this.free.splice(best, 1)[0] as Buffer)
        : Buffer.allocUnsafeSlow(Math.ceil(size / ROUND) * ROUND);
    this.inUse += whole.length;
    return whole.subarray(0, size);
  }

  release(buf: Buffer): void {
    const whole = Buffer.from(buf.buffer, 0, buf.buffer.byteLength);
    this.inUse -= whole.length;
    this.free.push(whole);
    // Keep the largest free buffers while everything held fits the budget; the rest go to the allocator.
    this.free.sort((a, b) => b.length - a.length);
    let held = this.inUse;
    for (let i = 0; i < this.free.length; i++) {
      held += (this.free[i] as Buffer).length;
      if (held > this.budget) {
        this.free.length = i;
        break;
      }
    }
  }
}
