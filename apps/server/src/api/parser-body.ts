import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { BodySink, DirectBody } from '../cluster/index.js';

/**
 * node:http's request, whose body the data plane takes straight from the HTTP parser, which hands each chunk of
 * it, then its end, to `push`. Read as stream events instead, every request of the stream API (a GET's empty
 * body too) would queue four or five `nextTick`s while its Readable resumes, flows, ends and destroys itself.
 * The node's server makes its requests of this class (`IncomingMessage` option); until `readBody` is called, one
 * is an ordinary IncomingMessage (Nest's routes read theirs as streams).
 */
export class ParserBodyRequest extends IncomingMessage implements DirectBody {
  private sink: BodySink | undefined = undefined;
  /** The sink has had the body's end. */
  private bodyRead = false;

  static {
    // A body read through the sink has ended as a stream's would have, which is what node:http and stream
    // utilities ask `readableEnded` (node:http then lets go of an answered request at once rather than waiting
    // for an 'end' event). An accessor over Readable's, which a class cannot declare over a property.
    Object.defineProperty(ParserBodyRequest.prototype, 'readableEnded', {
      get(this: ParserBodyRequest): boolean {
        return this.bodyRead || Reflect.get(Readable.prototype, 'readableEnded', this);
      },
    });
  }

  /**
   * The body's chunks and its end go to `sink` from now on, and node:http does not drain the body after the
   * answer (its `_consuming` flag: the parser has handed it over). Called from the request handler, which
   * node:http calls once the headers are read, before any of the body.
   */
  readBody(sink: BodySink): void {
    this.sink = sink;
    (this as unknown as { _consuming: boolean })._consuming = true;
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    const sink = this.sink;
    if (sink === undefined) return super.push(chunk, encoding);
    if (chunk === null) {
      this.sink = undefined;
      this.bodyRead = true;
      sink.end();
    } else sink.chunk(chunk as Buffer);
    // Always ready for more: the sink refuses what is over its limit itself.
    return true;
  }
}

/** The sink of a request without a body (a GET): bytes sent anyway are dropped. */
export const NO_BODY: BodySink = { chunk: () => undefined, end: () => undefined };
